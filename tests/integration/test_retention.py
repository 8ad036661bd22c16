#!/usr/bin/python3
"""Retention against the real binary, with a period of seconds
(--retention-days 0.0001, about 8.6 s): a finished job disappears on its
own with its trials, events and model files, except the model an alias
holds; the deletion is logged with the job's age; the freed pages go back
to the file system (the database has fewer pages and none free, and its
files shrink); running jobs are never touched; and with retention off
nothing is deleted."""

import os
import re
import sqlite3
import time
import unittest

from fitdtest import Daemon, read_data, wait_job

DAYS = 0.0001  # 8.64 s
SECONDS = DAYS * 86400


def pages(state_dir):
    """(page_count, freelist_count, auto_vacuum) of the state's database, read on the side."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(state_dir, "fitd.db"), uri=True)
    try:
        return tuple(db.execute("PRAGMA %s" % p).fetchone()[0]
                     for p in ("page_count", "freelist_count", "auto_vacuum"))
    finally:
        db.close()


def db_bytes(state_dir):
    return sum(os.path.getsize(os.path.join(state_dir, f))
               for f in ("fitd.db", "fitd.db-wal") if os.path.exists(os.path.join(state_dir, f)))


def models(state_dir):
    return sorted(f for f in os.listdir(os.path.join(state_dir, "models"))
                  if not f.startswith("."))


def wait_until(check, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


class Retention(unittest.TestCase):
    def start(self, *args):
        d = Daemon(args=args).start()
        self.addCleanup(d.cleanup)
        status, _, ds = d.upload("iris", read_data("iris.csv"))
        self.assertEqual(status, 201, ds)
        return d, ds["id"]

    def submit(self, d, ds, trials):
        status, _, job = d.request("POST", "/v1/jobs", body={
            "dataset": ds, "target": "species", "search": {"max_trials": trials, "seed": 5},
            "space": {"models": ["logistic", "mlp"]}})
        self.assertEqual(status, 201, job)
        return job["id"]

    def test_old_jobs_go_and_space_comes_back(self):
        d, ds = self.start("--retention-days", str(DAYS))
        held = self.submit(d, ds, 3)
        held_job = wait_job(d, held, timeout=600)
        self.assertEqual(held_job["state"], "succeeded")
        kept = held_job["best"]["model_id"]
        status, _, alias = d.request("PUT", "/v1/aliases/keep", body={"model": kept})
        self.assertEqual(status, 201, alias)
        big = self.submit(d, ds, 120)  # hundreds of events and trials
        self.assertEqual(wait_job(d, big, timeout=600)["state"], "succeeded")
        before_pages, _, vacuum_mode = pages(d.state_dir)
        self.assertEqual(vacuum_mode, 2)  # incremental
        before_files = models(d.state_dir)
        self.assertGreater(len(before_files), 2)
        # A job that is still running when its elders go is never touched.
        status, _, live = d.request("POST", "/v1/jobs", body={
            "dataset": ds, "target": "species", "early_stopping": False,
            "search": {"max_trials": 1},
            "space": {"models": ["mlp"], "optimizer": ["sgd"], "epochs": 100000,
                      "learning_rate": [0.0001], "batch_size": [16]}})
        self.assertEqual(status, 201, live)

        def gone():
            return all(d.request("GET", "/v1/jobs/" + j)[0] == 404 for j in (big, held))

        self.assertTrue(wait_until(gone, SECONDS * 6 + 30), "the old jobs are still there")
        for j in (big, held):
            for path in ("/trials", "/events"):
                self.assertEqual(d.request("GET", "/v1/jobs/" + j + path)[0], 404)
        # The aliased model stays, readable and serving; every other model file
        # goes, removed just after the deletion's commit (store/jobs_delete.c),
        # so an answer of 404 may come a moment before the last unlink.
        wait_until(lambda: models(d.state_dir) == [kept], 30)
        self.assertEqual(models(d.state_dir), [kept])
        self.assertEqual(d.request("GET", "/v1/models/" + kept)[0], 200)
        self.assertEqual(d.request("POST", "/v1/aliases/keep/predict", body={"rows": [
            {"sepal_length": 5, "sepal_width": 3, "petal_length": 1, "petal_width": 0.2}]})[0],
            200)
        status, _, job = d.request("GET", "/v1/jobs/" + live["id"])
        self.assertEqual((status, job["state"]), (200, "running"))
        # The pages went back: fewer, none free; the files follow.
        self.assertTrue(wait_until(lambda: pages(d.state_dir)[1] == 0, 30))
        after_pages = pages(d.state_dir)[0]
        print("database pages %d -> %d; model files %d -> 1" % (
            before_pages, after_pages, len(before_files)))
        self.assertLess(after_pages, before_pages * 0.7)
        with open(d.log_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
        for j in (big, held):
            m = re.search(r"event=retention_deleted job=%s age_days=([0-9.]+)" % j, log)
            self.assertIsNotNone(m, "no retention_deleted line for " + j)
            self.assertGreaterEqual(float(m.group(1)), DAYS * 0.999)
        self.assertRegex(log, r"event=vacuumed reason=deleted pages=\d+")
        self.assertEqual(d.request("POST", "/v1/jobs/%s/cancel" % live["id"])[0], 202)
        # Stopped, the WAL is checkpointed away: the file itself is smaller.
        size_before = before_pages * 4096
        d.stop()
        self.assertLess(db_bytes(d.state_dir), size_before * 0.7)

    def test_off_by_default(self):
        d, ds = self.start()
        job = self.submit(d, ds, 2)
        self.assertEqual(wait_job(d, job)["state"], "succeeded")
        time.sleep(2)
        self.assertEqual(d.request("GET", "/v1/jobs/" + job)[0], 200)
        with open(d.log_path, encoding="utf-8", errors="replace") as f:
            self.assertNotIn("retention_deleted", f.read())


if __name__ == "__main__":
    unittest.main(verbosity=2)
