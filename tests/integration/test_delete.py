#!/usr/bin/python3
"""Deleting jobs and models against the real binary: a job is refused while
queued or running and, once ended, goes with its trials, events and model
files; a model is refused while it is a job's best, and otherwise goes; a
deleted model is not served from the prediction cache; the disk figures of
/readyz and /metrics follow; and a model file left behind by a crash between
the commit and the unlink is swept at the next start."""

import os
import re
import shutil
import time
import unittest

from fitdtest import DaemonTest, read_data, wait_job

ROWS = {"rows": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
                  "petal_width": 0.2}]}
# Trains far longer than any test waits (cancelled by the test).
SLOW = {"space": {"models": ["mlp"], "optimizer": ["sgd"], "epochs": 100000,
                  "learning_rate": [0.0001], "batch_size": [16]},
        "early_stopping": False, "search": {"max_trials": 1}}


def disk(d):
    status, _, ready = d.request("GET", "/readyz")
    assert status == 200, ready
    return ready["disk"]


def state_bytes(d):
    """fitd_state_bytes by kind, from /metrics."""
    status, _, text = d.request("GET", "/metrics")
    assert status == 200
    return {m.group(1).decode(): int(m.group(2)) for m in re.finditer(
        rb'^fitd_state_bytes\{kind="(\w+)"\} (\d+)$', text, re.M)}


def model_files(d):
    return sorted(f for f in os.listdir(os.path.join(d.state_dir, "models"))
                  if not f.startswith("."))


class Delete(DaemonTest):
    def setUp(self):
        super().setUp()
        status, _, ds = self.d.upload("iris", read_data("iris.csv"))
        self.assertEqual(status, 201, ds)
        self.ds = ds["id"]

    def submit(self, spec):
        status, _, job = self.d.request("POST", "/v1/jobs", body=dict(
            spec, dataset=self.ds, target="species"))
        self.assertEqual(status, 201, job)
        return job

    def finished(self, trials=6):
        job = self.submit({"space": {"models": ["logistic", "mlp"]},
                           "search": {"max_trials": trials, "seed": 1}})
        job = wait_job(self.d, job["id"])
        self.assertEqual(job["state"], "succeeded", job)
        return job

    def test_job_refused_until_it_ends(self):
        job = self.submit(SLOW)
        wait_job(self.d, job["id"], states=("running",))
        resp = self.d.request("DELETE", "/v1/jobs/" + job["id"])
        self.assertError(resp, 409, "job_not_finished")
        self.assertIn("cancel", resp[2]["error"]["message"])
        queued = self.submit(SLOW)
        if self.d.request("GET", "/v1/jobs/" + queued["id"])[2]["state"] == "queued":
            self.assertError(self.d.request("DELETE", "/v1/jobs/" + queued["id"]), 409,
                             "job_not_finished")
        for j in (job, queued):
            self.assertEqual(self.d.request("POST", "/v1/jobs/%s/cancel" % j["id"])[0], 202)
            wait_job(self.d, j["id"])
            self.assertEqual(self.d.request("DELETE", "/v1/jobs/" + j["id"])[0], 200)
        self.assertError(self.d.request("DELETE", "/v1/jobs/" + job["id"]), 404, "job_not_found")
        self.assertError(self.d.request("DELETE", "/v1/jobs/nope"), 400, "invalid_id")

    def test_job_goes_with_its_trials_events_and_models(self):
        job = self.finished()
        keep = self.finished()
        model = job["best"]["model_id"]
        files = model_files(self.d)
        self.assertIn(model, files)
        # Predict once so the model sits in the server's cache.
        self.assertEqual(self.d.request("POST", "/v1/models/%s/predict" % model, body=ROWS)[0],
                         200)
        before = disk(self.d)
        self.assertGreater(before["models"], 0)
        metrics = state_bytes(self.d)
        self.assertEqual(set(metrics), {"database", "datasets", "models"})
        self.assertEqual((metrics["datasets"], metrics["models"]),
                         (before["datasets"], before["models"]))
        status, _, gone = self.d.request("DELETE", "/v1/jobs/" + job["id"])
        self.assertEqual(status, 200, gone)
        self.assertEqual(gone["id"], job["id"])
        self.assertTrue(gone["deleted"])
        self.assertEqual(gone["models_kept"], [])
        self.assertGreaterEqual(gone["models_deleted"], 1)
        for path in ("", "/trials", "/events"):
            self.assertError(self.d.request("GET", "/v1/jobs/" + job["id"] + path), 404,
                             "job_not_found")
        self.assertError(self.d.request("GET", "/v1/models/" + model), 404, "model_not_found")
        self.assertError(self.d.request("POST", "/v1/models/%s/predict" % model, body=ROWS),
                         404, "model_not_found")
        left = model_files(self.d)
        self.assertEqual(len(files) - len(left), gone["models_deleted"])
        self.assertNotIn(model, left)
        self.assertIn(keep["best"]["model_id"], left)
        after = disk(self.d)
        self.assertLess(after["models"], before["models"])
        self.assertEqual(after["models"], sum(os.path.getsize(os.path.join(
            self.d.state_dir, "models", f)) for f in left))
        self.assertEqual(after["datasets"], before["datasets"])
        # The rest is untouched: the other job, its model, the dataset, the list.
        self.assertEqual(self.d.request("POST", "/v1/models/%s/predict" % keep["best"][
            "model_id"], body=ROWS)[0], 200)
        status, _, page = self.d.request("GET", "/v1/jobs")
        self.assertEqual([j["id"] for j in page["items"]], [keep["id"]])
        self.assertEqual(self.d.request("GET", "/v1/datasets/" + self.ds)[0], 200)
        with open(self.d.log_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
        self.assertIn("event=job_deleted id=%s" % job["id"], log)

    def test_model_rules(self):
        job = self.finished(trials=10)
        best = job["best"]["model_id"]
        resp = self.d.request("DELETE", "/v1/models/" + best)
        self.assertError(resp, 409, "model_in_use")
        self.assertIn(job["id"], resp[2]["error"]["message"])
        others = [m for m in model_files(self.d) if m != best]
        self.assertTrue(others, "a search of 10 trials made only its best model")
        status, _, gone = self.d.request("DELETE", "/v1/models/" + others[0])
        self.assertEqual((status, gone), (200, {"id": others[0], "deleted": True}))
        self.assertNotIn(others[0], model_files(self.d))
        self.assertError(self.d.request("GET", "/v1/models/" + others[0]), 404,
                         "model_not_found")
        self.assertError(self.d.request("DELETE", "/v1/models/" + others[0]), 404,
                         "model_not_found")
        status, _, again = self.d.request("GET", "/v1/jobs/" + job["id"])
        self.assertEqual((status, again["best"]["model_id"]), (200, best))

    def test_crash_between_commit_and_unlink_is_swept(self):
        job = self.finished()
        models = os.path.join(self.d.state_dir, "models")
        saved = os.path.join(self.d.state_dir, "..", os.path.basename(self.d.state_dir) + ".m")
        shutil.copytree(models, saved)
        try:
            self.assertEqual(self.d.request("DELETE", "/v1/jobs/" + job["id"])[0], 200)
            self.d.kill()
            # As if the daemon died after the commit, before the files went.
            for f in os.listdir(saved):
                shutil.copy(os.path.join(saved, f), models)
            self.assertTrue(model_files(self.d))
            self.d.start()
            self.assertEqual(model_files(self.d), [])
            self.assertEqual(disk(self.d)["models"], 0)
        finally:
            shutil.rmtree(saved, ignore_errors=True)

    def test_dataset_bytes(self):
        first = disk(self.d)
        path = os.path.join(self.d.state_dir, "datasets", self.ds)
        self.assertEqual(first["datasets"], os.path.getsize(path))
        db = os.path.join(self.d.state_dir, "fitd.db")
        self.assertGreaterEqual(first["database"], os.path.getsize(db))
        status, _, ds = self.d.upload("wine", read_data("wine.csv"))
        self.assertEqual(status, 201, ds)
        self.assertEqual(disk(self.d)["datasets"], first["datasets"] + os.path.getsize(
            os.path.join(self.d.state_dir, "datasets", ds["id"])))
        self.assertEqual(self.d.request("DELETE", "/v1/datasets/" + self.ds)[0], 200)
        self.assertEqual(disk(self.d)["datasets"], os.path.getsize(
            os.path.join(self.d.state_dir, "datasets", ds["id"])))


if __name__ == "__main__":
    unittest.main(verbosity=2)
