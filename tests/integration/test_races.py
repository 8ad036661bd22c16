"""The scheduler under concurrency, meant for a ThreadSanitizer build
(deploy/test.sh runs it on one) but run by every build: several jobs share
the trial threads (parallel trials, multi-threaded trials, successive
halving), event streams and status readers run alongside, a job is
cancelled, the configuration is reloaded, the daemon is stopped mid-search
and restarted. Any data race report makes the daemon exit non-zero (TSan's
halt_on_error or exitcode), which fails the test; so does any report left
in its log. Timing never decides a result here: a sanitizer slows
everything down many times."""

import http.client
import signal
import threading
import time
import unittest

from fitdtest import Daemon, wait_job
from test_jobs import submit, upload

TIMEOUT = 900  # TSan builds run trials many times slower

SPECS = {
    "random": lambda iris, wine: {
        "dataset": iris, "target": "species",
        "space": {"models": ["logistic", "svm"], "optimizer": ["sgd", "adam"], "epochs": 20},
        "search": {"algorithm": "random", "max_trials": 12, "parallel_trials": 2,
                   "threads_per_trial": 1}},
    "asha": lambda iris, wine: {
        "dataset": wine, "target": "cultivar",
        "space": {"models": ["mlp"], "optimizer": ["adam"], "epochs": 27,
                  "mlp": {"hidden_layers": [1], "units": [8, 16]}},
        "validation": {"method": "holdout", "fraction": 0.3},
        "search": {"algorithm": "asha", "max_trials": 8}},
    "openmp": lambda iris, wine: {
        "dataset": wine, "target": "cultivar", "space": {"models": ["logistic"]},
        "search": {"max_trials": 4, "parallel_trials": 1, "threads_per_trial": 2}},
    "cancelled": lambda iris, wine: {
        "dataset": iris, "target": "species",
        "space": {"models": ["mlp"], "optimizer": ["sgd"], "epochs": 100000,
                  "mlp": {"hidden_layers": [1], "units": [32]}},
        "early_stopping": False, "search": {"max_trials": 2}},
}


class Races(unittest.TestCase):
    def setUp(self):
        # The readers below loop without pause: no rate limit on their one address.
        self.d = Daemon(args=["--worker-threads", "2", "--rate-limit-ip", "0"]).start(timeout=120)

    def tearDown(self):
        if self.d.proc is not None and self.d.proc.poll() is not None:
            print("fitd exited with %d:\n%s" % (self.d.proc.returncode, self.log_text()[-8000:]))
        self.d.cleanup()

    def read_loop(self, paths, stop, errors):
        """Status reads in a loop; collects any 5xx."""
        while not stop.is_set():
            for path in paths:
                try:
                    status, _, body = self.d.request("GET", path, timeout=120)
                except OSError:
                    if stop.is_set():  # the daemon is stopping
                        return
                    raise
                # 503 is the answer while fitd stops.
                if status >= 500 and not (status == 503 and stop.is_set()):
                    errors.append((path, status, body))

    def stream(self, job_id, stop):
        """Reads a job's event stream until the job ends or the daemon stops."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=TIMEOUT)
            conn.request("GET", "/v1/jobs/%s/events" % job_id)
            resp = conn.getresponse()
            while not stop.is_set() and resp.readline():
                pass
            conn.close()
        except OSError:
            pass

    def log_text(self):
        with open(self.d.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def test_jobs_streams_cancel_reload_and_restart(self):
        iris, wine = upload(self.d, "iris"), upload(self.d, "wine")
        jobs = {}
        for name, make in SPECS.items():
            status, _, job = submit(self.d, make(iris, wine))
            self.assertEqual(status, 201, job)
            jobs[name] = job["id"]

        stop, errors = threading.Event(), []
        paths = ["/readyz", "/metrics", "/v1/jobs"] + ["/v1/jobs/" + j for j in jobs.values()]
        threads = [threading.Thread(target=self.read_loop, args=(paths, stop, errors))
                   for _ in range(3)]
        threads += [threading.Thread(target=self.stream, args=(j, stop)) for j in jobs.values()]
        for t in threads:
            t.daemon = True
            t.start()

        wait_job(self.d, jobs["cancelled"], states=("running",), timeout=TIMEOUT)
        self.d.request("POST", "/v1/jobs/%s/cancel" % jobs["cancelled"])
        self.d.proc.send_signal(signal.SIGHUP)
        # Stop while the searches run: trials go back to the queue.
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            job = self.d.request("GET", "/v1/jobs/" + jobs["random"])[2]
            if job["progress"]["trials_done"] >= 2 or job["state"] != "running":
                break
            time.sleep(0.2)
        stop.set()
        self.assertEqual(self.d.stop(timeout=TIMEOUT), 0, self.log_text()[-4000:])
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(errors, [])

        self.d.start(timeout=120)
        states = {name: wait_job(self.d, j, timeout=TIMEOUT)["state"] for name, j in jobs.items()}
        self.assertEqual(states, {"random": "succeeded", "asha": "succeeded",
                                  "openmp": "succeeded", "cancelled": "cancelled"})
        self.assertEqual(self.d.stop(timeout=TIMEOUT), 0, self.log_text()[-4000:])
        self.assertNotIn("ThreadSanitizer", self.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
