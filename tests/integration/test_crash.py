"""Crash recovery: SIGKILL the daemon at random moments during running
searches, many times, restarting it each time. After every restart the
database must pass integrity_check, every acknowledged job must be there,
and every completed trial must still be completed with the same score
(none lost, none run into a second result); in the end every job ends.
A second daemon started on the state directory of a live one is refused
instead of recovering the first one's trials."""

import os
import random
import sqlite3
import subprocess
import time
import unittest

from fitdtest import FITD, Daemon, read_data, wait_job

KILLS = int(os.environ.get("FITD_CRASH_KILLS", "20"))
# Under ASan and UBSan a network's epoch is several times slower: the jobs
# left after the kills take that much longer to end.
SANITIZED = os.environ.get("FITD_SANITIZE", "none") not in ("", "none")
FINISH_S = 1500 if SANITIZED else 600


def snapshot(state_dir):
    db = sqlite3.connect("file:%s/fitd.db?mode=ro" % state_dir, uri=True)
    try:
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
        jobs = {r[0]: r[1] for r in db.execute("SELECT id, state FROM jobs")}
        done = {(r[0], r[1]): r[2] for r in db.execute(
            "SELECT job_id, idx, score FROM trials WHERE state = 'completed'")}
        finished_events = db.execute(
            "SELECT job_id, json_extract(data, '$.trial'), count(*) FROM events"
            " WHERE type = 'trial_finished' AND json_extract(data, '$.state') = 'completed'"
            " GROUP BY 1, 2").fetchall()
        return check, jobs, done, finished_events
    finally:
        db.close()


def running_trials(state_dir):
    db = sqlite3.connect("file:%s/fitd.db?mode=ro" % state_dir, uri=True, timeout=5)
    try:
        return db.execute("SELECT count(*) FROM trials WHERE state = 'running'").fetchone()[0]
    finally:
        db.close()


def wait_running(state_dir, timeout=10):
    """Until the store says a trial runs: a kill aimed at a trial, not at
    the idle moments between them (or at a daemon still starting)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if running_trials(state_dir) > 0:
                return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.02)


class Crash(unittest.TestCase):
    def test_kill_restart_many_times(self):
        rng = random.Random(int(os.environ.get("FITD_CRASH_SEED", "7")))
        d = Daemon(args=("--worker-threads", "2")).start()
        try:
            datasets = []
            for name in ("iris", "wine", "breast_cancer"):
                status, _, ds = d.upload(name, read_data(name + ".csv"))
                self.assertEqual(status, 201)
                datasets.append((ds["id"], {"iris": "species", "wine": "cultivar",
                                            "breast_cancer": "diagnosis"}[name]))
            acknowledged = []

            def submit_one(i):
                ds, target = datasets[i % len(datasets)]
                status, _, job = d.request("POST", "/v1/jobs", body={
                    "dataset": ds, "target": target,
                    "space": {"models": ["logistic", "mlp"], "optimizer": ["adam", "sgd"],
                              "epochs": 1500, "mlp": {"hidden_layers": [1], "units": [16, 32]}},
                    "early_stopping": False,
                    "validation": {"method": "cv", "folds": 3, "repeats": 1},
                    "search": {"algorithm": "random", "max_trials": 8, "seed": i}})
                self.assertEqual(status, 201, job)
                acknowledged.append(job["id"])

            for i in range(4):
                submit_one(i)
            seen_done = {}
            for k in range(KILLS):
                if k % 5 == 4:
                    submit_one(10 + k)
                # A random moment inside a running trial: wait for one to
                # run, then a little more (trials here last a second or so).
                wait_running(d.state_dir)
                time.sleep(rng.uniform(0.0, 0.3))
                d.kill()
                check, jobs, done, events = snapshot(d.state_dir)
                self.assertEqual(check, "ok")
                for job_id in acknowledged:
                    self.assertIn(job_id, jobs)
                for key, score in seen_done.items():
                    self.assertEqual(done.get(key), score, "completed trial %s changed" % (key,))
                seen_done.update(done)
                self.assertTrue(all(n == 1 for _, _, n in events), events)
                d.start()
            deadline = time.time() + FINISH_S
            while time.time() < deadline:
                _, _, page = d.request("GET", "/v1/jobs?limit=1000")
                states = [j["state"] for j in page["items"]]
                if all(s in ("succeeded", "failed", "cancelled") for s in states):
                    break
                time.sleep(0.5)
            self.assertEqual(sorted(j["id"] for j in page["items"]), sorted(acknowledged))
            for j in page["items"]:
                self.assertEqual(j["state"], "succeeded", j)
                self.assertEqual(j["progress"]["trials_done"], 8)
            d.stop()
            check, jobs, done, events = snapshot(d.state_dir)
            self.assertEqual(check, "ok")
            for key, score in seen_done.items():
                self.assertEqual(done.get(key), score)
            # The kills must have hit running trials, not idle time.
            with open(d.log_path, errors="replace") as log:
                requeued = [int(line.split("trials_requeued=")[1].split()[0])
                            for line in log if "event=recovered" in line]
            hits = sum(1 for n in requeued if n > 0)
            self.assertGreaterEqual(hits, KILLS // 2, requeued)
            print("kills survived: %d (%d during trials), jobs: %d, completed trials: %d"
                  % (KILLS, hits, len(acknowledged), len(done)))
        finally:
            d.cleanup()


class StateDirLock(unittest.TestCase):
    def test_second_daemon_on_a_live_state_directory_is_refused(self):
        # Both would have the same node id: the second one's recovery took
        # the first one's running trial back and both ran the job, whose
        # results the first one then could not record.
        d = Daemon(args=("--worker-threads", "1")).start()
        try:
            status, _, ds = d.upload("iris", read_data("iris.csv"))
            self.assertEqual(status, 201, ds)
            status, _, job = d.request("POST", "/v1/jobs", body={
                "dataset": ds["id"], "target": "species",
                "space": {"models": ["mlp"], "optimizer": ["sgd"], "epochs": 300},
                "early_stopping": False, "search": {"max_trials": 4, "seed": 3}})
            self.assertEqual(status, 201, job)
            wait_running(d.state_dir)
            try:
                p = subprocess.run([FITD, "--listen", "127.0.0.1:0", "--state-dir",
                                    d.state_dir, "--worker-threads", "1"],
                                   capture_output=True, text=True, timeout=15)
            except subprocess.TimeoutExpired as e:
                self.fail("the second daemon ran on the state directory: %s" % e.stderr)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("event=state_dir_in_use", p.stderr)
            self.assertIn("pid=%d " % d.proc.pid, p.stderr)
            self.assertNotIn("event=recovered", p.stderr)
            done = wait_job(d, job["id"], timeout=300)
            self.assertEqual(done["state"], "succeeded", done)
            self.assertEqual(done["progress"]["trials_done"], 4)
            d.stop()
            with open(d.log_path, "rb") as f:
                self.assertNotIn(b"event=trial_record_failed", f.read())
            d.start()  # free again once its daemon stopped
            status, _, again = d.request("GET", "/v1/jobs/" + job["id"])
            self.assertEqual((status, again["state"]), (200, "succeeded"))
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
