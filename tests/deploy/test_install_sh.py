"""deploy/install.sh: install, install again, uninstall, purge.

Where this machine can boot a systemd container (root, systemd-nspawn and
an overlay of / over tmpfs), RealSystemd runs install.sh inside it against
the real systemd: the unit is found, enabled, started, passes readiness and
is removed again. FakeSystemd always runs: install.sh --root into a
temporary directory with a recording systemctl (fake_systemctl.sh) that
starts the installed binary the way the installed unit says.

Usage: test_install_sh.py MESON BUILD_DIR"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

MESON, BUILD = sys.argv[1], os.path.abspath(sys.argv[2])
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
INSTALL_SH = os.path.join(SOURCE, "deploy", "install.sh")
DATA = os.path.join(SOURCE, "tests", "data")


def meson_dirs():
    r = subprocess.run([MESON, "introspect", "--buildoptions", BUILD], capture_output=True,
                       text=True, check=True)
    opts = {o["name"]: o["value"] for o in json.loads(r.stdout)}
    prefix = opts["prefix"]
    return {"sbin": os.path.join(prefix, opts["sbindir"], "fitd"),
            "unit": os.path.join(prefix, "lib/systemd/system/fitd.service"),
            "conf": os.path.join(prefix, opts["sysconfdir"], "fitd/fitd.conf"),
            "man": os.path.join(prefix, opts["mandir"], "man8/fitd.8")}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST" if body else "GET", path, body=body,
                 headers={"Content-Type": "text/csv"} if body else {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


class FakeSystemd(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="fitd-root-")
        self.paths = meson_dirs()
        self.port = free_port()
        # The operator's config, which install.sh must keep.
        self.conf = self.root + self.paths["conf"]
        os.makedirs(os.path.dirname(self.conf))
        self.conf_text = "# mine\nlisten = 127.0.0.1:%d\n" % self.port
        with open(self.conf, "w") as f:
            f.write(self.conf_text)

    def tearDown(self):
        self.install("--uninstall", "--purge")
        shutil.rmtree(self.root, ignore_errors=True)

    def install(self, *args):
        env = dict(os.environ, SYSTEMCTL=os.path.join(HERE, "fake_systemctl.sh"),
                   FAKE_ROOT=self.root, FITD_READY_TIMEOUT="60")
        r = subprocess.run([INSTALL_SH, "--root", self.root, "--builddir", BUILD, "--no-build"]
                           + list(args), capture_output=True, text=True, env=env, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def calls(self):
        with open(self.root + "/systemctl.log") as f:
            return f.read().splitlines()

    def test_install_reinstall_uninstall_purge(self):
        out = self.install()
        self.assertIn("fitd is running and ready on http://127.0.0.1:%d" % self.port, out)
        self.assertIn(self.paths["conf"], out)
        for key in ("sbin", "unit", "man"):
            self.assertTrue(os.path.isfile(self.root + self.paths[key]), key)
        with open(self.conf) as f:
            self.assertEqual(f.read(), self.conf_text)
        self.assertEqual(self.calls()[-2:], ["daemon-reload", "enable --now fitd.service"])
        wants = self.root + "/etc/systemd/system/multi-user.target.wants/fitd.service"
        self.assertEqual(os.readlink(wants), self.paths["unit"])
        self.assertEqual(get(self.port, "/readyz")[0], 200)
        with open(os.path.join(DATA, "iris.csv"), "rb") as f:
            self.assertEqual(get(self.port, "/v1/datasets?name=iris", f.read())[0], 201)

        # Again: an upgrade in place restarts the running service; data stays.
        self.install()
        self.assertEqual(self.calls()[-3:], ["daemon-reload", "enable --now fitd.service",
                                             "restart fitd.service"])
        status, body = get(self.port, "/v1/datasets")
        self.assertEqual((status, len(json.loads(body)["items"])), (200, 1))

        out = self.install("--uninstall")
        self.assertEqual(self.calls()[-2:], ["disable --now fitd.service", "daemon-reload"])
        with self.assertRaises(OSError):
            get(self.port, "/readyz")
        for key in ("sbin", "unit", "man"):
            self.assertFalse(os.path.exists(self.root + self.paths[key]), key)
        self.assertFalse(os.path.lexists(wants))
        self.assertIn("kept " + self.conf, out)
        self.assertTrue(os.path.isfile(self.conf))
        self.assertTrue(os.path.isfile(self.root + "/var/lib/private/fitd/fitd.db"))
        self.assertIn("state kept in %s/var/lib/private/fitd" % self.root, out)

        self.install("--uninstall", "--purge")
        self.assertFalse(os.path.exists(self.conf))
        self.assertFalse(os.path.lexists(self.root + "/var/lib/fitd"))
        self.assertFalse(os.path.exists(self.root + "/var/lib/private/fitd"))
        self.assertIn("fitd is not installed", self.install("--uninstall"))

    def test_fresh_install_ships_the_example_config_and_removes_it_unchanged(self):
        os.unlink(self.conf)
        # The example listens on 127.0.0.1:8080, which may be taken here:
        # check what was put in place without waiting for readiness.
        env = dict(os.environ, SYSTEMCTL="true", FITD_READY_TIMEOUT="0")
        subprocess.run([INSTALL_SH, "--root", self.root, "--builddir", BUILD, "--no-build"],
                       capture_output=True, env=env, timeout=300)
        with open(self.conf) as f, open(os.path.join(SOURCE, "deploy", "fitd.conf")) as g:
            self.assertEqual(f.read(), g.read())
        self.install("--uninstall")
        self.assertFalse(os.path.exists(self.conf))
        self.assertFalse(os.path.exists(os.path.dirname(self.conf)))
        self.assertFalse(os.path.exists(self.root + "/usr/local/share/fitd"))


class RealSystemd(unittest.TestCase):
    """install.sh in a container booted by systemd-nspawn over an overlay of
    this machine's own root (so the build and every package are there),
    with its own network namespace (so port 8080 is free)."""

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0 or not (shutil.which("systemd-nspawn") and shutil.which("nsenter")):
            raise unittest.SkipTest("needs root, systemd-nspawn and nsenter")
        # Where the README says install.sh puts everything.
        cls.paths = {"sbin": "/usr/local/sbin/fitd",
                     "unit": "/usr/local/lib/systemd/system/fitd.service",
                     "conf": "/etc/fitd/fitd.conf",
                     "man": "/usr/local/share/man/man8/fitd.8"}
        cls.tmp = tempfile.mkdtemp(prefix="fitd-nspawn-", dir="/var/tmp")
        cls.mounts = []
        cls.ns = None
        try:
            cls.mount("-t", "tmpfs", "tmpfs", cls.tmp)
            for d in ("upper", "work", "root"):
                os.mkdir(os.path.join(cls.tmp, d))
            cls.mount("-t", "overlay", "overlay", "-o",
                      "lowerdir=/,upperdir=%s/upper,workdir=%s/work" % (cls.tmp, cls.tmp),
                      cls.tmp + "/root")
        except OSError as e:
            cls.tearDownClass()
            raise unittest.SkipTest("cannot make an overlay of /: %s" % e)
        cls.log = open(cls.tmp + ".log", "wb")
        cls.ns = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--link-journal=no",
             "--private-network", "--directory", cls.tmp + "/root",
             "--machine", "fitd-test-%d" % os.getpid(), "--boot", "--", "systemd.unit=basic.target"],
            stdin=subprocess.DEVNULL, stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline and cls.ns.poll() is None:
            time.sleep(1)
            try:
                with open("/proc/%d/task/%d/children" % (cls.ns.pid, cls.ns.pid)) as f:
                    cls.leader = int(f.read().split()[0])
            except (OSError, IndexError):
                continue
            state = cls.sh("systemctl is-system-running").stdout.strip()
            if state in ("running", "degraded"):
                return
        cls.tearDownClass()
        raise unittest.SkipTest("the container did not boot within 120 s")

    @classmethod
    def mount(cls, *args):
        r = subprocess.run(["mount"] + list(args), capture_output=True, text=True)
        if r.returncode != 0:
            raise OSError(r.stderr.strip())
        cls.mounts.append(args[-1])

    @classmethod
    def tearDownClass(cls):
        if cls.ns is not None:
            cls.ns.terminate()  # nspawn halts the container
            try:
                cls.ns.wait(timeout=60)
            except subprocess.TimeoutExpired:
                cls.ns.kill()
                cls.ns.wait()
            cls.log.close()
            os.unlink(cls.tmp + ".log")
        for m in reversed(cls.mounts):
            subprocess.run(["umount", m])
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def sh(cls, script, timeout=300):
        """Runs a bash script inside the container, from the source tree."""
        return subprocess.run(
            ["nsenter", "--target", str(cls.leader), "--all", "--root", "--wd",
             "env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "bash", "-c", "cd %s && %s" % (SOURCE, script)], capture_output=True, text=True,
            timeout=timeout)

    def check(self, script, timeout=300):
        r = self.sh(script, timeout)
        self.assertEqual(r.returncode, 0, "%s\n%s%s" % (script, r.stdout, r.stderr))
        return r.stdout.strip()

    def test_install_reinstall_reload_uninstall_purge(self):
        # The README's commands as written: the first builds build-release/.
        install = "deploy/install.sh"
        out = self.check(install, timeout=1500)
        self.assertIn("fitd is running and ready on http://127.0.0.1:8080", out)
        self.assertEqual(self.check("systemctl is-enabled fitd; systemctl is-active fitd"),
                         "enabled\nactive")
        self.assertEqual(self.check("systemctl show -p FragmentPath --value fitd"),
                         self.paths["unit"])
        for key in ("sbin", "conf", "man"):
            self.check("test -f " + self.paths[key])
        self.check("test -x build-release/daemon/fitd")
        main_pid = self.check("systemctl show -p MainPID --value fitd")
        # DynamicUser: not root.
        self.assertNotEqual(self.check("ps -o user= -p " + main_pid), "root")
        self.assertEqual(self.check(
            "curl -s -o /dev/null -w '%{http_code}' --data-binary @tests/data/iris.csv "
            "-H 'Content-Type: text/csv' 'http://127.0.0.1:8080/v1/datasets?name=iris'"), "201")

        # Again: an upgrade in place restarts the service; the data stay.
        self.check(install)
        self.assertEqual(self.check("systemctl is-active fitd"), "active")
        self.assertNotEqual(self.check("systemctl show -p MainPID --value fitd"), main_pid)
        self.assertIn('"name":"iris"', self.check("curl -sf http://127.0.0.1:8080/v1/datasets"))
        main_pid = self.check("systemctl show -p MainPID --value fitd")
        self.check("systemctl reload fitd")
        self.assertEqual(self.check("systemctl show -p MainPID --value fitd"), main_pid)

        out = self.check("deploy/install.sh --uninstall")
        self.assertIn("state kept in /var/lib/private/fitd", out)
        self.assertNotEqual(self.sh("systemctl is-active fitd").stdout.strip(), "active")
        for key in ("sbin", "unit", "conf", "man"):
            self.assertNotEqual(self.sh("test -e " + self.paths[key]).returncode, 0, key)
        self.check("test -f /var/lib/private/fitd/fitd.db")
        self.check("deploy/install.sh --uninstall --purge")
        self.assertNotEqual(self.sh("test -e /var/lib/private/fitd").returncode, 0)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
