"""Jobs that cannot run must end: trials too big for the memory budget fail
the job with memory_limit and a message that says what to change; repeated
identical failures trip the circuit breaker; max_seconds is wall-clock
time whatever the trials do, carried across a restart; a spec without a
trial budget still stops at 10,000 trials; and while trials fail as fast
as they are proposed, the scheduler's loop keeps answering signals and
pinging the watchdog."""

import json
import os
import random
import signal
import sqlite3
import time
import unittest

from fitdtest import Daemon, DaemonTest, wait_job
from test_jobs import SLOW_SPACE, submit, upload
from test_status import NotifySocket

BREAKER_TRIALS = 10  # consecutive identical failures that end a job (worker/job.c)


def wide_table(rows=20000, levels=2000, seed=1):
    """rows x (a levels-level categorical column, a numeric one, a 0/1 target).
    Rows hold one code per column, so the table is small for every family;
    the column's levels only widen the weights (a network's first layer has
    a row of them per level)."""
    rng = random.Random(seed)
    lines = ["city,x,y"]
    for i in range(rows):
        x = rng.gauss(0, 1)
        lines.append("c%d,%.4f,%d" % (i % levels, x, x + rng.gauss(0, 1) > 0))
    return ("\n".join(lines) + "\n").encode()


def upload_wide(d):
    status, _, ds = d.upload("wide", wide_table())
    assert status == 201, ds
    return ds["id"]


# Wide networks: 2,000 levels x 256 units of first-layer weights (and the
# optimizer's copies of them) are far more than 16 MiB; the same network
# without the column, or a logistic model with it, fits.
WIDE_NET_SPACE = {"models": ["mlp"], "mlp": {"hidden_layers": [1], "units": [256]}}


def trials(d, job_id):
    _, _, board = d.request("GET", "/v1/jobs/%s/trials?limit=1000" % job_id)
    return board["items"]


class MemoryLimit(DaemonTest):
    daemon_args = ("--trial-memory-mib", "16", "--worker-threads", "2")

    def test_a_job_whose_trials_cannot_be_admitted_fails_promptly(self):
        ds = upload_wide(self.d)
        t0 = time.time()
        status, _, job = submit(self.d, {"dataset": ds, "target": "y", "space": WIDE_NET_SPACE,
                                         "search": {"max_seconds": 30}})
        self.assertEqual(status, 201, job)
        job = wait_job(self.d, job["id"], timeout=15)
        self.assertLess(time.time() - t0, 5)
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["error"]["code"], "memory_limit", job)
        message = job["error"]["message"]
        for what in ("'city' has 2000 levels", "exclude", "--trial-memory-mib",
                     "budget of 16 MiB"):
            self.assertIn(what, message)
        self.assertGreater(job["progress"]["elapsed_s"], 0)
        items = trials(self.d, job["id"])
        self.assertLessEqual(len(items), BREAKER_TRIALS + 2)
        self.assertTrue(all(t["error"]["code"] == "memory_limit" for t in items), items)
        # Leaving the column out is what the message says: then the trials run.
        status, _, job = submit(self.d, {"dataset": ds, "target": "y", "exclude_columns": ["city"],
                                         "space": dict(WIDE_NET_SPACE, epochs=5),
                                         "search": {"max_trials": 2}})
        self.assertEqual(status, 201, job)
        self.assertEqual(wait_job(self.d, job["id"])["state"], "succeeded")
        # One code per row: a linear model reads the 2,000-level column in the same budget.
        status, _, job = submit(self.d, {"dataset": ds, "target": "y",
                                         "space": {"models": ["logistic"],
                                                   "optimizer": ["lbfgs"]},
                                         "search": {"max_trials": 2}})
        self.assertEqual(status, 201, job)
        self.assertEqual(wait_job(self.d, job["id"])["state"], "succeeded")


class TinyBudget(DaemonTest):
    """A budget smaller than any fit: nothing is admitted, and the message
    does not blame a column (leaving one out would not help)."""
    daemon_args = ("--trial-memory-mib", "1", "--worker-threads", "2")

    def test_no_trial_fits_in_one_mib(self):
        ds = upload(self.d, "iris")
        t0 = time.time()
        status, _, job = submit(self.d, {"dataset": ds, "target": "species",
                                         "search": {"max_seconds": 30}})
        self.assertEqual(status, 201, job)
        job = wait_job(self.d, job["id"], timeout=15)
        self.assertLess(time.time() - t0, 5)
        self.assertEqual((job["state"], job["error"]["code"]), ("failed", "memory_limit"), job)
        self.assertIn("budget of 1 MiB: exclude columns, choose smaller settings",
                      job["error"]["message"])


class Breaker(DaemonTest):
    daemon_args = ("--worker-threads", "2")

    def test_identical_fast_failures_stop_the_search(self):
        """Gradient descent at a learning rate of 5 to 10 diverges within a
        few hundred epochs: every trial fails in milliseconds."""
        ds = upload(self.d, "seed_linear")
        t0 = time.time()
        status, _, job = submit(self.d, {
            "dataset": ds, "target": "y", "early_stopping": False,
            "space": {"models": ["linear"], "optimizer": ["gd"],
                      "learning_rate": {"min": 5, "max": 10}, "epochs": 3000,
                      "regularization": ["none"], "loss": ["squared"]},
            "search": {"algorithm": "random", "max_seconds": 60}})
        self.assertEqual(status, 201, job)
        job = wait_job(self.d, job["id"], timeout=20)
        self.assertLess(time.time() - t0, 10)
        self.assertEqual((job["state"], job["error"]["code"]), ("failed", "diverged"), job)
        self.assertIn("learning rate", job["error"]["message"])
        items = trials(self.d, job["id"])
        failed = [t for t in items if t["state"] == "failed"]
        self.assertGreaterEqual(len(failed), BREAKER_TRIALS)
        self.assertLessEqual(len(items), BREAKER_TRIALS + 2)


class WallClock(DaemonTest):
    daemon_args = ("--worker-threads", "1")

    def test_max_seconds_counts_time_spent_waiting_for_a_thread(self):
        """The only thread trains another job's long trial: this job's
        trials never start, and it still ends at its 2.5 s deadline."""
        digits, iris = upload(self.d, "digits"), upload(self.d, "iris")
        _, _, hog = submit(self.d, {"dataset": digits, "target": "digit", "space": SLOW_SPACE,
                                    "early_stopping": False, "search": {"max_trials": 1}})
        wait_job(self.d, hog["id"], states=("running",),
                 until=lambda j: j["progress"]["trials_running"] > 0)
        t0 = time.time()
        status, _, job = submit(self.d, {"dataset": iris, "target": "species",
                                         "search": {"max_seconds": 2.5}})
        self.assertEqual(status, 201, job)
        self.assertEqual(job["spec"]["search"]["max_seconds"], 2.5)
        job = wait_job(self.d, job["id"], timeout=15)
        took = time.time() - t0
        self.assertGreater(took, 2.3)
        self.assertLess(took, 4.5)
        self.assertEqual((job["state"], job["error"]["code"]), ("failed", "no_trial_completed"),
                         job)
        self.assertIn("2.5 s", job["error"]["message"])
        self.assertGreaterEqual(job["progress"]["elapsed_s"], 2.4)
        self.assertLess(job["progress"]["elapsed_s"], 4.0)
        self.assertEqual(trials(self.d, job["id"]), [])
        self.d.request("POST", "/v1/jobs/%s/cancel" % hog["id"])
        self.assertEqual(wait_job(self.d, hog["id"])["state"], "cancelled")


    def test_elapsed_time_carries_on_across_a_restart(self):
        """4 s of budget: 2 s spent before a restart, the rest after it."""
        digits, iris = upload(self.d, "digits"), upload(self.d, "iris")
        _, _, hog = submit(self.d, {"dataset": digits, "target": "digit", "space": SLOW_SPACE,
                                    "early_stopping": False, "search": {"max_trials": 1}})
        wait_job(self.d, hog["id"], states=("running",),
                 until=lambda j: j["progress"]["trials_running"] > 0)
        _, _, job = submit(self.d, {"dataset": iris, "target": "species",
                                    "search": {"max_seconds": 4}})
        wait_job(self.d, job["id"], states=("running",))
        time.sleep(2)
        self.d.stop()  # the state directory outlives the process
        self.d.start()
        t0 = time.time()
        job = wait_job(self.d, job["id"], timeout=20)
        self.assertLess(time.time() - t0, 3.5)
        self.assertGreaterEqual(job["progress"]["elapsed_s"], 3.9)
        self.assertLess(job["progress"]["elapsed_s"], 5.5)
        self.d.request("POST", "/v1/jobs/%s/cancel" % hog["id"])


class TrialCap(unittest.TestCase):
    def test_a_spec_without_a_trial_budget_stops_at_10000_trials(self):
        """A job of max_seconds alone whose store already holds 10,000
        finished trials (put there behind the daemon's back) proposes no
        more: it refits the best and succeeds at once."""
        d = Daemon(args=("--worker-threads", "1", "--max-running-jobs", "1")).start()
        try:
            iris, digits = upload(d, "iris"), upload(d, "digits")
            space = {"models": ["logistic"], "optimizer": ["lbfgs"]}
            _, _, one = submit(d, {"dataset": iris, "target": "species", "space": space,
                                   "search": {"max_trials": 1}})
            params = trials(d, wait_job(d, one["id"])["id"])[0]["params"]
            _, _, hog = submit(d, {"dataset": digits, "target": "digit", "space": SLOW_SPACE,
                                   "early_stopping": False, "search": {"max_trials": 1}})
            wait_job(d, hog["id"], states=("running",))
            _, _, job = submit(d, {"dataset": iris, "target": "species", "space": space,
                                   "search": {"algorithm": "random", "max_seconds": 600}})
            self.assertEqual(job["state"], "queued")  # the one running slot is taken
            self.assertIsNone(job["spec"]["search"]["max_trials"])
            d.stop()
            db = sqlite3.connect(os.path.join(d.state_dir, "fitd.db"))
            with db:
                db.execute("UPDATE jobs SET state = 'cancelled' WHERE id = ?", (hog["id"],))
                db.executemany(
                    "INSERT INTO trials (job_id, idx, state, params, attempt, generation,"
                    " score, score_std, epochs, duration_ms, result)"
                    " VALUES (?, ?, 'completed', ?, 1, 1, ?, 0.01, 10, 1, ?)",
                    [(job["id"], i, json.dumps(params), 0.9 + (i == 4321) * 0.01,
                      '{"fold_scores":[],"rungs":[]}') for i in range(10000)])
            db.close()
            d.start()
            job = wait_job(d, job["id"], timeout=60)
            self.assertEqual(job["state"], "succeeded", job)
            self.assertEqual(job["progress"]["trials_done"], 10000)
            self.assertEqual(job["best"]["trial"], 4321)
            self.assertIsNotNone(job["best"]["model_id"])
        finally:
            d.cleanup()


def runaway_jobs(d, n, ds=None):
    """Submits n jobs on one wide table whose every trial is too big (wide
    networks over its 2,000-level column)."""
    ds = ds or upload_wide(d)
    ids = []
    for _ in range(n):
        status, _, job = submit(d, {"dataset": ds, "target": "y", "space": WIDE_NET_SPACE,
                                    "search": {"algorithm": "random", "max_seconds": 60}})
        assert status == 201, job
        ids.append(job["id"])
    return ids


class BusyLoop(unittest.TestCase):
    """A hundred jobs whose trials fail as fast as they are proposed (a
    thousand trials refused, seconds of work for the scheduler's loop): each
    scheduling pass does a bounded share and hands the loop back."""

    JOBS = 100
    ARGS = ["--trial-memory-mib", "16", "--worker-threads", "2", "--max-running-jobs", "128"]

    def test_a_backlog_at_start_does_not_hold_up_readiness_or_the_watchdog(self):
        """The jobs wait queued behind another while the daemon stops; the
        next start finds them all at once: it is ready at once, and the
        watchdog (pinged from the scheduler's loop) hears from it every
        0.5 s while they run."""
        d = Daemon(args=["--trial-memory-mib", "16", "--max-running-jobs", "1"])
        notify = None
        try:
            d.start()
            hog = submit(d, {"dataset": upload(d, "digits"), "target": "digit",
                             "space": SLOW_SPACE, "early_stopping": False,
                             "search": {"max_trials": 1}})[2]
            wait_job(d, hog["id"], states=("running",))
            ids = runaway_jobs(d, self.JOBS)
            d.stop()
            db = sqlite3.connect(os.path.join(d.state_dir, "fitd.db"))
            with db:
                db.execute("UPDATE jobs SET state = 'cancelled' WHERE id = ?", (hog["id"],))
            db.close()
            notify = NotifySocket()
            d.args, d.env = self.ARGS, {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"}
            t0 = time.time()
            d.start()
            ready = notify.wait("READY=1", t0)[0]
            self.assertLess(ready - t0, 2)
            for job_id in ids:
                job = wait_job(d, job_id, timeout=60)
                self.assertEqual(job["error"]["code"], "memory_limit", job)
            done = time.time()
            pings = [ready] + [t for t, _ in notify.lines("WATCHDOG=1", ready)] + [done]
            gaps = [b - a for a, b in zip(pings, pings[1:])]
            self.assertLess(max(gaps), 1.2, "the loop went quiet: %r" % gaps)
        finally:
            d.cleanup()
            if notify is not None:
                notify.close()

    def test_sigterm_is_answered_promptly(self):
        d = Daemon(args=self.ARGS).start()
        try:
            ids = runaway_jobs(d, self.JOBS)
            wait_job(d, ids[0], states=("running", "failed"))
            t0 = time.time()
            rc = d.stop(signal.SIGTERM, timeout=20)
            self.assertEqual(rc, 0)
            self.assertLess(time.time() - t0, 2)
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
