"""Helpers for fitd's integration tests: start the real binary on a free
port with a temporary state directory and talk HTTP to it (stdlib only)."""

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

FITD = os.environ.get("FITD_BIN", "build/daemon/fitd")
DATA = os.environ.get("FITD_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "data"))
TERMINAL = ("succeeded", "failed", "cancelled")


class Daemon:
    """One fitd process. The state directory outlives restarts."""

    def __init__(self, state_dir=None, args=(), env=None, token=None):
        self.own_state = state_dir is None
        self.env = env  # extra environment variables
        self.token = token  # sent as a bearer token by request() unless headers say otherwise
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="fitd-test-")
        self.args = list(args)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.state_dir, "..", os.path.basename(self.state_dir) + ".log")

    def start(self, timeout=20):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [FITD, "--listen", "127.0.0.1:0", "--state-dir", self.state_dir] + self.args,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=dict(os.environ, **self.env) if self.env else None)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("fitd exited during start: %s" % self.proc.wait())
            self.log.write(line)
            text = line.decode("utf-8", "replace")
            if "event=listening" in text:
                addr = text.split("addr=")[1].split()[0]
                self.port = int(addr.rsplit(":", 1)[1])
            if "event=ready" in text:
                break
        else:
            raise RuntimeError("fitd did not become ready")
        self._drain()
        return self

    def _drain(self):
        """Keeps copying the daemon's stderr to the log so it never blocks."""
        import threading

        def pump(src, dst):
            try:
                for line in src:
                    dst.write(line)
                    dst.flush()
            except ValueError:  # stop() closed the pipe or the log
                pass
        threading.Thread(target=pump, args=(self.proc.stderr, self.log), daemon=True).start()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.proc.stderr.close()
        self.proc = None
        self.log.close()
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        if self.proc is not None:
            self.kill()
        if self.own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            try:
                os.unlink(self.log_path)
            except OSError:
                pass

    def request(self, method, path, body=None, headers=None, timeout=60):
        """Returns (status, headers dict, parsed JSON or raw bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        hdrs = dict(headers or {})
        if self.token is not None and not any(k.lower() == "authorization" for k in hdrs):
            hdrs["Authorization"] = "Bearer " + self.token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        try:
            conn.request(method, path, body=body, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            pass  # an early error answer (413) closes the connection mid-body
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        ctype = resp.getheader("Content-Type", "")
        data = json.loads(raw) if ctype.startswith("application/json") else raw
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def raw(self, payload, timeout=10):
        """Sends raw bytes on a fresh connection; returns the raw response bytes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    break
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)

    def upload(self, name, csv_bytes, content_type="text/csv"):
        return self.request("POST", "/v1/datasets?name=" + name, body=csv_bytes,
                            headers={"Content-Type": content_type})


class DaemonTest(unittest.TestCase):
    """A test case with a fresh daemon per test (self.d)."""

    daemon_args = ()

    def setUp(self):
        self.d = Daemon(args=self.daemon_args).start()

    def tearDown(self):
        self.d.cleanup()

    def assertError(self, resp, status, code):
        got_status, headers, body = resp
        self.assertEqual(got_status, status, body)
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(body["error"]["code"], code, body)
        self.assertIsInstance(body["error"]["message"], str)
        self.assertTrue(body["error"]["message"])


def wait_job(d, job_id, timeout=120, states=TERMINAL, until=None, check=None):
    """Polls GET /v1/jobs/ID on daemon d until the job is in one of states
    and until(job), when given, holds; returns the job. check, when given,
    sees every answer (status, headers, body) first. Raises AssertionError
    on an answer other than 200 or when timeout seconds pass first."""
    deadline = time.time() + timeout
    job = None
    while time.time() < deadline:
        resp = d.request("GET", "/v1/jobs/" + job_id)
        if check is not None:
            check(resp)
        status, _, job = resp
        assert status == 200, job
        if job["state"] in states and (until is None or until(job)):
            return job
        time.sleep(0.1)
    raise AssertionError("job %s not in %s after %s s: %s" % (job_id, states, timeout, job))


def final_trial(items, higher_is_better, nscores):
    """The trial fitd refits by the one-standard-error rule, from the whole
    leaderboard: of the completed trials within one standard error of the
    top score, the best of the simplest family (linear, logistic < svm <
    gbdt < mlp); ties keep the lower index."""
    done = [t for t in items if t["state"] == "completed"]
    sign = 1 if higher_is_better else -1
    top = max(done, key=lambda t: (sign * t["score"], -t["trial"]))
    bound = sign * top["score"] - top["score_std"] / nscores ** 0.5
    rank = {"mlp": 3, "gbdt": 2, "svm": 1}
    near = [t for t in done if sign * t["score"] >= bound]
    return min(near, key=lambda t: (rank.get(t["params"]["model"], 0), -sign * t["score"],
                                    t["trial"]))


def write_tokens(path, tokens):
    """Writes a token file: tokens maps a name to (token, scopes)."""
    with open(path, "w") as f:
        f.write("# sha256 of the token, scopes, name\n")
        for name, (token, scopes) in tokens.items():
            f.write("%s %s %s\n" % (hashlib.sha256(token.encode()).hexdigest(), scopes, name))
    return path


def read_data(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def upload_table(d, name):
    """Uploads tests/data/NAME.csv; the dataset id (asserts 201)."""
    status, _, ds = d.upload(name, read_data(name + ".csv"))
    assert status == 201, ds
    return ds["id"]


def submit_job(d, spec):
    """Submits a job spec; the job id (asserts 201)."""
    status, _, job = d.request("POST", "/v1/jobs", body=spec)
    assert status == 201, job
    return job["id"]


def offline_predict(args):
    """Runs `fitd predict ARGS`; its standard output (asserts exit 0)."""
    p = subprocess.run([FITD, "predict"] + args, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


def npm_ci(src, cache, files):
    """Copies files (package.json, package-lock.json and scripts) from src
    into cache and runs npm ci there unless node_modules already holds what
    the lock file pins; returns the npm path."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed: deploy/deps.sh test installs it")
    os.makedirs(cache, exist_ok=True)
    for name in files:
        shutil.copyfile(os.path.join(src, name), os.path.join(cache, name))
    stamp = os.path.join(cache, "node_modules", ".package-lock.json")
    with open(os.path.join(src, "package-lock.json")) as f:
        lock = json.load(f)["packages"]
    try:
        with open(stamp) as f:
            installed = json.load(f)["packages"]
    except (OSError, ValueError, KeyError):
        installed = None
    if installed != {k: v for k, v in lock.items() if k}:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=cache,
                       check=True, timeout=600)
    return npm
