"""Load: wrk on loopback, 64 connections, status reads and job submissions
together while trials train: a first minute, then 60 s more. Requires no
non-2xx answer at all (so no 5xx), no lost job, resident memory at the end
within 10% of what it was after the first minute, and reports the p99 of
the status reads."""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from fitdtest import Daemon
from test_jobs import submit, upload

READERS, SUBMITTERS = 62, 2
# Every sanitizer keeps freed memory in quarantine: resident memory then
# says nothing, and the first minute is left out.
SANITIZED = os.environ.get("FITD_SANITIZE", "none") not in ("", "none")
WARMUP = 0 if SANITIZED else 60
SECONDS = WARMUP + 60

READS_LUA = """
local non2xx = 0
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  io.write(string.format("LOAD non2xx=%d\\n", summary.errors.status))
end
"""
# Each submitting connection sends a small job every 200 ms.
SUBMIT_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"dataset":"%s","target":"species","space":{"models":["logistic"],"optimizer":["lbfgs"]},'
  .. '"validation":{"method":"holdout","fraction":0.2},"search":{"max_trials":1}}'
function delay() return 200 end
function done(summary, latency, requests)
  io.write(string.format("LOAD requests=%%d non2xx=%%d\\n", summary.requests, summary.errors.status))
end
"""


def ms(value):
    num, unit = re.match(r"([\d.]+)(us|ms|s)$", value).groups()
    return float(num) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


@unittest.skipUnless(shutil.which("wrk"), "wrk is not installed (deploy/deps.sh test installs it)")
class Load(unittest.TestCase):
    def setUp(self):
        # wrk's thousands of requests a second from one address would be rate limited.
        self.d = Daemon(args=("--rate-limit-ip", "0")).start()
        self.dir = tempfile.mkdtemp(prefix="fitd-load-")

    def tearDown(self):
        self.d.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def script(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def wrk(self, conns, script, path):
        return subprocess.Popen(
            ["wrk", "-t1", "-c%d" % conns, "-d%ds" % SECONDS, "--latency", "--timeout", "10s",
             "-s", script, "http://127.0.0.1:%d%s" % (self.d.port, path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def test_status_reads_and_submissions_while_trials_train(self):
        iris, digits = upload(self.d, "iris"), upload(self.d, "digits")
        # Trials train through the whole run, all of one size (so the heap's
        # high-water mark does not depend on which settings a search drew).
        status, _, long_job = submit(self.d, {
            "dataset": digits, "target": "digit",
            "space": {"models": ["mlp"], "optimizer": ["adam"], "learning_rate": [0.01],
                      "batch_size": [64], "epochs": 30, "regularization": ["none"],
                      "mlp": {"hidden_layers": [1], "units": [64]}},
            "search": {"max_seconds": SECONDS + 60, "max_trials": 10000}})
        self.assertEqual(status, 201, long_job)

        rss = []  # (seconds since start, KiB)
        stop = threading.Event()

        def sample():
            t0 = time.time()
            while not stop.wait(1.0):
                rss.append((time.time() - t0, rss_kib(self.d.proc.pid)))
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        reads = self.wrk(READERS, self.script("reads.lua", READS_LUA), "/v1/jobs/" + long_job["id"])
        subs = self.wrk(SUBMITTERS, self.script("submit.lua", SUBMIT_LUA % iris), "/v1/jobs")
        reads_out, _ = reads.communicate(timeout=SECONDS + 60)
        subs_out, _ = subs.communicate(timeout=SECONDS + 60)
        stop.set()
        sampler.join()
        self.assertEqual(reads.returncode, 0, reads_out)
        self.assertEqual(subs.returncode, 0, subs_out)

        p99 = ms(re.search(r"^\s+99%\s+(\S+)", reads_out, re.M).group(1))
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", reads_out).group(1))
        reads_non2xx = int(re.search(r"LOAD non2xx=(\d+)", reads_out).group(1))
        submitted, subs_non2xx = map(int, re.search(r"LOAD requests=(\d+) non2xx=(\d+)",
                                                    subs_out).groups())
        early = [k for t, k in rss if t >= WARMUP][0]
        late = rss[-1][1]
        print("\nload: %d s, %d+%d connections: status reads %.0f/s p99 %.2f ms, %d non-2xx; "
              "%d jobs submitted, %d non-2xx; resident memory %d KiB at %d s, %d KiB at the end "
              "(%+.1f%%)" % (SECONDS, READERS, SUBMITTERS, rate, p99, reads_non2xx, submitted,
                             subs_non2xx, early, WARMUP, late, 100.0 * (late - early) / early),
              flush=True)
        self.assertEqual(reads_non2xx, 0, reads_out)
        self.assertEqual(subs_non2xx, 0, subs_out)
        self.assertGreater(submitted, 0)

        # No job was lost: every 201 is a stored job (and a few more whose
        # answer wrk cut off at the end).
        stored, after = -1, ""  # less the long job
        while after is not None:
            status, _, page = self.d.request("GET", "/v1/jobs?limit=1000" + after)
            self.assertEqual(status, 200, page)
            stored += len(page["items"])
            after = page["next_after"] and "&after=" + page["next_after"]
        self.assertGreaterEqual(stored, submitted)
        self.assertLessEqual(stored, submitted + SUBMITTERS)
        # Trials kept training under the load.
        job = self.d.request("GET", "/v1/jobs/" + long_job["id"])[2]
        self.assertGreater(job["progress"]["trials_done"], 0, job)
        if not SANITIZED:
            self.assertLess(late, early * 1.10, rss)


if __name__ == "__main__":
    unittest.main(verbosity=2)
