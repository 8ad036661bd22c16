"""SIGTERM under load: a search keeps the trial threads busy while client
threads read job status and submit jobs over keep-alive connections; then
SIGTERM. Every request that got an answer got its normal status or 503
(never another 5xx) with its whole body; the others were refused or found
their idle connection closed before any answer began, which is all HTTP
keep-alive and libmicrohttpd allow once the listener is closed and, after
stop-grace-ms, the remaining connections. The process exits 0 within
stop-grace-ms plus a margin, leaves no trial running in the database, and
after a restart on the same state directory the search resumes. The cycle
repeats with SIGKILLs at random moments in between; in the end the search
succeeds with its full trial count and no acknowledged job or dataset is
lost."""

import http.client
import json
import os
import random
import signal
import threading
import time
import unittest

from fitdtest import Daemon, read_data, wait_job
from test_crash import snapshot

GRACE_MS = 3000
MARGIN_S = 20  # a loaded 2-core machine; the unit gives TimeoutStopSec=30 in all
TRIALS = 24
CYCLES = int(os.environ.get("FITD_SIGTERM_CYCLES", "5"))


class Load:
    """Client threads on keep-alive connections until told to stop."""

    def __init__(self, port, job_id, dataset, nthreads=4):
        self.port, self.job_id, self.dataset = port, job_id, dataset
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers = []     # (method, path, status, body) with the body read whole
        self.unanswered = []  # (method, path, what happened) before any status line
        self.broken = []      # an answer that began but did not end
        self.submitted = []   # ids of jobs acknowledged 201
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(nthreads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def one(self, conn, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
        except (ConnectionError, http.client.RemoteDisconnected, OSError) as e:
            with self.lock:
                self.unanswered.append((method, path, type(e).__name__))
            return None
        try:
            raw = resp.read()
        except (http.client.IncompleteRead, ConnectionError, OSError) as e:
            with self.lock:
                self.broken.append((method, path, resp.status, repr(e)))
            return None
        data = json.loads(raw) if resp.getheader("Content-Type", "").startswith(
            "application/json") else raw
        with self.lock:
            self.answers.append((method, path, resp.status, data))
            if method == "POST" and resp.status == 201:
                self.submitted.append(data["id"])
        if resp.getheader("Connection", "").lower() == "close":
            conn.close()
        return resp.status

    def run(self, i):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        small = json.dumps({"dataset": self.dataset, "target": "species",
                            "validation": {"method": "cv", "folds": 2},
                            "space": {"models": ["logistic"], "optimizer": ["lbfgs"]},
                            "search": {"max_trials": 1, "seed": i}})
        k = 0
        while not self.stop.is_set():
            k += 1
            if k % 10 == 0:
                status = self.one(conn, "POST", "/v1/jobs", small)
            elif k % 3 == 0:
                status = self.one(conn, "GET", "/v1/jobs?limit=20")
            else:
                status = self.one(conn, "GET", "/v1/jobs/" + self.job_id)
            if status is None:
                conn.close()
                time.sleep(0.05)


class Sigterm(unittest.TestCase):
    def check_answers(self, load):
        for method, path, status, body in load.answers:
            self.assertIn(status, (200, 201, 503), (method, path, status, body))
            if status == 503:
                self.assertIsInstance(body, dict, body)
                self.assertEqual(body["error"]["code"], "shutting_down", body)
        self.assertEqual(load.broken, [], "answers cut mid-body")

    def test_sigterm_and_sigkill_cycles(self):
        rng = random.Random(int(os.environ.get("FITD_SIGTERM_SEED", "11")))
        # The client threads loop without pause from one address: no rate limit.
        d = Daemon(args=("--worker-threads", "2", "--stop-grace-ms", str(GRACE_MS),
                         "--rate-limit-ip", "0")).start()
        try:
            status, _, iris = d.upload("iris", read_data("iris.csv"))
            self.assertEqual(status, 201, iris)
            status, _, job = d.request("POST", "/v1/jobs", body={
                "dataset": iris["id"], "target": "species",
                "validation": {"method": "cv", "folds": 3}, "early_stopping": False,
                "space": {"models": ["mlp"], "optimizer": ["adam", "sgd"], "epochs": 600,
                          "mlp": {"hidden_layers": [1], "units": [16, 32]}},
                # Each SIGKILL during a trial counts an attempt (a SIGTERM does not).
                "search": {"algorithm": "random", "max_trials": TRIALS, "seed": 3,
                           "max_attempts": CYCLES + 3}})
            self.assertEqual(status, 201, job)
            search = job["id"]
            acknowledged = {search}
            answered = refused = unavailable = terms = kills = 0
            for cycle in range(2 * CYCLES):
                # trial threads busy before the signal
                deadline = time.time() + 60
                while time.time() < deadline:
                    _, _, j = d.request("GET", "/v1/jobs/" + search)
                    if j["progress"]["trials_running"] > 0 or j["state"] != "running":
                        break
                    time.sleep(0.05)
                if cycle % 2 == 0:
                    load = Load(d.port, search, iris["id"]).start()
                    time.sleep(rng.uniform(0.5, 1.5))
                    t0 = time.time()
                    rc = d.stop(signal.SIGTERM, timeout=GRACE_MS / 1000 + MARGIN_S)
                    took = time.time() - t0
                    load.join()
                    self.assertEqual(rc, 0)
                    self.assertLess(took, GRACE_MS / 1000 + MARGIN_S)
                    self.check_answers(load)
                    answered += len(load.answers)
                    unavailable += sum(1 for a in load.answers if a[2] == 503)
                    refused += len(load.unanswered)
                    acknowledged.update(load.submitted)
                    terms += 1
                    check, jobs, _, _ = snapshot(d.state_dir)
                    self.assertEqual(check, "ok")
                    self.assertEqual(running_trials(d.state_dir), 0,
                                     "a graceful stop gives running trials back")
                else:
                    time.sleep(rng.uniform(0.2, 1.5))
                    d.kill()
                    kills += 1
                    check, jobs, _, _ = snapshot(d.state_dir)
                    self.assertEqual(check, "ok")
                for job_id in acknowledged:
                    self.assertIn(job_id, jobs)
                d.start()
                status, _, page = d.request("GET", "/v1/datasets")
                self.assertEqual([ds["id"] for ds in page["items"]], [iris["id"]])
            job = wait_job(d, search, timeout=900)
            self.assertEqual(job["state"], "succeeded", job)
            self.assertEqual(job["progress"]["trials_done"], TRIALS, job)
            _, _, trials = d.request("GET", "/v1/jobs/%s/trials?limit=1000" % search)
            self.assertEqual(sorted(t["trial"] for t in trials["items"]), list(range(TRIALS)))
            self.assertTrue(all(t["state"] == "completed" for t in trials["items"]), trials)
            _, _, page = d.request("GET", "/v1/jobs?limit=1000")
            self.assertEqual(sorted(j["id"] for j in page["items"]), sorted(acknowledged))
            self.assertEqual(d.stop(), 0)
            print("kills survived: %d SIGTERM under load, %d SIGKILL; requests answered %d "
                  "(503: %d), refused or closed before an answer %d; jobs %d"
                  % (terms, kills, answered, unavailable, refused, len(acknowledged)))
        finally:
            d.cleanup()


def running_trials(state_dir):
    import sqlite3
    db = sqlite3.connect("file:%s/fitd.db?mode=ro" % state_dir, uri=True)
    try:
        return db.execute("SELECT count(*) FROM trials WHERE state = 'running'").fetchone()[0]
    finally:
        db.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
