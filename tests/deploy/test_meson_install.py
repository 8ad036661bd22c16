"""`meson install` into a temporary DESTDIR: every file fitd installs is
there and sane. The unit starts the installed binary with the installed
config and passes systemd-analyze verify, the man page renders without a
warning and documents every key `fitd --print-config` prints, and the
example config is accepted as it is.

Usage: test_meson_install.py MESON BUILD_DIR"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

MESON, BUILD = sys.argv[1], sys.argv[2]


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def meson_dirs():
    """prefix, sbindir, sysconfdir and mandir as absolute paths."""
    r = run(MESON, "introspect", "--buildoptions", BUILD)
    opts = {o["name"]: o["value"] for o in json.loads(r.stdout)}
    prefix = opts["prefix"]
    return {k: os.path.join(prefix, opts[k]) if k != "prefix" else prefix
            for k in ("prefix", "sbindir", "sysconfdir", "mandir")}


def man_text(path):
    """The man page rendered as plain text."""
    r = run("mandoc", "-Tascii", path)
    return re.sub(".\b", "", r.stdout)


class MesonInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.destdir = tempfile.mkdtemp(prefix="fitd-destdir-")
        r = run(MESON, "install", "-C", BUILD, "--no-rebuild", "--quiet", "--destdir", cls.destdir)
        if r.returncode != 0:
            raise RuntimeError("meson install failed:\n" + r.stdout + r.stderr)
        d = meson_dirs()
        cls.prefix = d["prefix"]
        cls.sbin = d["sbindir"] + "/fitd"
        cls.unit = d["prefix"] + "/lib/systemd/system/fitd.service"
        cls.conf = d["sysconfdir"] + "/fitd/fitd.conf"
        cls.man = d["mandir"] + "/man8/fitd.8"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.destdir, ignore_errors=True)

    def staged(self, path):
        return self.destdir + path

    def test_exactly_these_files(self):
        found = set()
        for top, _, files in os.walk(self.destdir):
            found.update(os.path.join(top, f)[len(self.destdir):] for f in files)
        self.assertEqual(found, {self.sbin, self.unit, self.conf, self.man})

    def test_binary_runs(self):
        self.assertTrue(os.access(self.staged(self.sbin), os.X_OK))
        r = run(self.staged(self.sbin), "--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^fitd \d+\.\d+\.\d+\n$")

    def test_unit_starts_the_installed_binary_with_the_installed_config(self):
        with open(self.staged(self.unit)) as f:
            unit = f.read()
        exec_start = re.findall(r"^ExecStart=(.*)$", unit, re.M)
        self.assertEqual(len(exec_start), 1, unit)
        self.assertEqual(shlex.split(exec_start[0]), [self.sbin, "--config", self.conf])
        self.assertIn("\nType=notify\n", unit)
        self.assertIn("\nDocumentation=man:fitd(8)\n", unit)

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
    def test_unit_verifies(self):
        # A copy whose ExecStart names the staged binary, which verify checks
        # exists (the ExecStart path itself is checked above).
        with open(self.staged(self.unit)) as f:
            unit = f.read().replace("ExecStart=" + self.sbin, "ExecStart=" + self.staged(self.sbin))
        with tempfile.TemporaryDirectory() as tmp:
            with open(tmp + "/fitd.service", "w") as f:
                f.write(unit)
            r = run("systemd-analyze", "verify", "--man=no", tmp + "/fitd.service")
        self.assertEqual((r.returncode, r.stderr), (0, ""))

    def test_man_page_renders_without_warnings(self):
        r = run("groff", "-man", "-ww", "-z", self.staged(self.man))
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = run("mandoc", "-Tlint", "-W", "warning", self.staged(self.man))
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_man_page_documents_every_key(self):
        r = run(self.staged(self.sbin), "--print-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        # "key = value", or "# key: ..." for a key left unset.
        keys = re.findall(r"^(?:# )?([a-z0-9-]+)(?: = |:)", r.stdout, re.M)
        self.assertIn("listen", keys)
        text = man_text(self.staged(self.man))
        options = text.split("\nOPTIONS\n")[1].split("\nSUBCOMMANDS\n")[0]
        documented = set(re.findall(r"^ {7}--([a-z0-9-]+)", options, re.M))
        self.assertEqual([k for k in keys if k not in documented], [])
        for key in ("config", "print-config", "version", "help"):
            self.assertIn(key, documented)

    def test_man_page_documents_the_subcommands_and_exit_codes(self):
        text = man_text(self.staged(self.man))
        for sub in ("predict", "submit", "status", "watch", "cancel"):
            self.assertRegex(text, r"\n   fitd %s" % sub)
        for section in ("SIGNALS", "FILES", "ENVIRONMENT", "EXIT STATUS", "SEE ALSO"):
            self.assertIn("\n%s\n" % section, text)
        for var in ("FITD_URL", "FITD_TOKEN", "STATE_DIRECTORY"):
            self.assertIn(var, text)

    def test_example_config_is_accepted(self):
        r = run(self.staged(self.sbin), "--config", self.staged(self.conf), "--print-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        effective = set(r.stdout.splitlines())
        with open(self.staged(self.conf)) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    key, value = (s.strip() for s in line.split("=", 1))
                    self.assertIn("%s = %s" % (key, value), effective)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
