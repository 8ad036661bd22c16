"""Ensembles of the best trials, end to end against the real binary: an
automatic short job on breast_cancer ends on time with best.kind "ensemble"
or "single" and its reason; an ensemble model predicts through the API as
the offline scorer does, explains (contributions summing to the margin, the
weighted mean of the members' margins), and reports its members, weights,
size and prediction speed; out-of-fold files stay at most 16 per job and
go with the job; "ensemble": false gives a single model and writes none;
the same spec and seed give the same ensemble whatever the parallelism and
across a crash and restart."""

import json
import math
import os
import tempfile
import time
import unittest

from fitdtest import DATA, Daemon, read_data, wait_job
from fitdtest import offline_predict as offline, submit_job as submit, upload_table as upload

ARGS = ("--worker-threads", "2", "--reserved-cores", "0")
# How late past max_seconds a job may end: 2 s here, where meson runs the
# integration tests side by side on the same cores (the members' refits are
# planned from fit times measured before the load changed), more under the
# sanitizers' slower code. tests/bench/quality.sh checks + 1 s on a quiet machine.
SLACK_S = 4.0 if os.environ.get("FITD_SANITIZE", "none") not in ("", "none") else 2.0


def oof_files(d, job_id):
    path = os.path.join(d.state_dir, "oof", job_id)
    return sorted(os.listdir(path)) if os.path.isdir(path) else None


def members(job):
    return [(m["trial"], round(m["weight"], 12)) for m in job["best"]["members"]]


class Ensembles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(args=ARGS).start()
        cls.bc = upload(cls.d, "breast_cancer")
        cls.diabetes = upload(cls.d, "diabetes")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def check_best(self, job):
        best = job["best"]
        self.assertIn(best["kind"], ("single", "ensemble"))
        self.assertTrue(best["reason"])
        if best["kind"] == "ensemble":
            self.assertGreaterEqual(len(best["members"]), 2)
            self.assertAlmostEqual(sum(m["weight"] for m in best["members"]), 1.0, places=12)
            higher = job["metric"] not in ("log_loss", "rmse", "mae")
            self.assertTrue(best["ensemble_score"] > best["single_score"] if higher
                            else best["ensemble_score"] < best["single_score"], best)
        return best

    def test_automatic_job_on_time(self):
        job = wait_job(self.d, submit(self.d, {"dataset": self.bc, "target": "diagnosis",
                                                "search": {"max_seconds": 8, "seed": 2}}),
                       timeout=120)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertLessEqual(job["progress"]["elapsed_s"], 8 + SLACK_S)
        best = self.check_best(job)
        _, _, doc = self.d.request("GET", "/v1/models/" + best["model_id"])
        if doc["refit"]:
            self.assertEqual(doc["selection"]["kind"], best["kind"])
        else:
            # No time left to refit (a slow machine): the best trial's model
            # stays, and the job says so.
            self.assertEqual(best["kind"], "single", best)
            self.assertIn("model is kept", best["reason"])
            self.assertNotIn("selection", doc)
        files = oof_files(self.d, job["id"])
        self.assertTrue(files)
        self.assertLessEqual(len(files), 16)
        print("automatic 8 s: %s, %s" % (best["kind"], best["reason"]))

    def test_ensemble_predicts_explains_and_scores_offline(self):
        job = wait_job(self.d, submit(self.d, {"dataset": self.bc, "target": "diagnosis",
                                                "search": {"max_trials": 12, "seed": 1,
                                                           "ensemble": True}}),
                       timeout=600)
        self.assertEqual(job["state"], "succeeded", job)
        best = self.check_best(job)
        self.assertEqual(best["kind"], "ensemble", best)
        model_id = best["model_id"]
        _, _, doc = self.d.request("GET", "/v1/models/" + model_id)
        self.assertEqual(doc["kind"], "ensemble")
        # The model normalizes its weights again (to sum to 1 in its own
        # arithmetic): the job's to 12 digits.
        self.assertEqual([(m["trial"], round(m["weight"], 12)) for m in doc["members"]],
                         members(job))
        self.assertEqual(doc["size"]["members"], len(best["members"]))
        self.assertGreater(doc["size"]["bytes"], 0)
        self.assertGreater(doc["predict_us_per_row"], 0)
        for m in doc["members"]:
            self.assertEqual(m["model"]["format"], "fitd-model")
        # Predictions: the API's and the offline scorer's agree on the whole table.
        path = os.path.join(DATA, "breast_cancer.csv")
        status, _, online = self.d.request("POST", "/v1/models/%s/predict" % model_id,
                                           body=read_data("breast_cancer.csv"),
                                           headers={"Content-Type": "text/csv"})
        self.assertEqual(status, 200, online)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(doc, f)
        try:
            self.assertEqual(json.loads(offline(["--model", f.name, "--input", path,
                                                 "--format", "json"])), online)
            for p in online["probabilities"]:
                self.assertAlmostEqual(sum(p), 1.0, places=9)
            # Explanations sum to the margins, and the offline ones are the API's.
            with open(path) as src:
                text = "".join(src.readlines()[:31])
            status, _, explained = self.d.request(
                "POST", "/v1/models/%s/predict?explain=true" % model_id, body=text,
                headers={"Content-Type": "text/csv"})
            self.assertEqual(status, 200, explained)
            c = explained["contributions"]
            self.assertEqual(len(c["values"]), 30)
            for row, margins in zip(c["values"], c["margins"]):
                for out, m in zip(row, margins):
                    self.assertEqual(len(out), len(c["columns"]) + 1)
                    self.assertLess(abs(sum(out) - m), 1e-9)
            with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as rows:
                rows.write(text)
            try:
                self.assertEqual(json.loads(offline(["--model", f.name, "--input", rows.name,
                                                     "--json", "--explain"])), explained)
            finally:
                os.unlink(rows.name)
        finally:
            os.unlink(f.name)
        # Deleting the job removes its out-of-fold files.
        self.assertTrue(oof_files(self.d, job["id"]))
        status, _, _ = self.d.request("DELETE", "/v1/jobs/" + job["id"])
        self.assertIn(status, (200, 204))
        self.assertIsNone(oof_files(self.d, job["id"]))

    def test_ensemble_false_is_single(self):
        job = wait_job(self.d, submit(self.d, {"dataset": self.diabetes, "target": "progression",
                                                "search": {"max_trials": 6, "seed": 1,
                                                           "ensemble": False}}),
                       timeout=600)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["spec"]["search"]["ensemble"], False)
        self.assertEqual(job["best"]["kind"], "single")
        self.assertIn("search.ensemble false", job["best"]["reason"])
        self.assertEqual(job["best"]["members"], [])
        self.assertIsNone(oof_files(self.d, job["id"]))
        _, _, doc = self.d.request("GET", "/v1/models/" + job["best"]["model_id"])
        self.assertNotIn("members", doc)

    def test_same_ensemble_whatever_the_parallelism(self):
        spec = {"dataset": self.diabetes, "target": "progression",
                "search": {"max_trials": 10, "seed": 4}}
        jobs = []
        for parallel in (1, 2):
            s = json.loads(json.dumps(spec))
            s["search"]["parallel_trials"] = parallel
            jobs.append(wait_job(self.d, submit(self.d, s), timeout=600))
        for job in jobs:
            self.assertEqual(job["state"], "succeeded", job)
            self.check_best(job)
        self.assertEqual(jobs[0]["best"]["kind"], jobs[1]["best"]["kind"])
        self.assertEqual(members(jobs[0]), members(jobs[1]))
        self.assertEqual(jobs[0]["best"]["ensemble_score"], jobs[1]["best"]["ensemble_score"])


class Restart(unittest.TestCase):
    def test_crash_and_restart_give_the_same_ensemble(self):
        spec = {"target": "diagnosis", "search": {"max_trials": 12, "seed": 1,
                                                  "parallel_trials": 1}}
        d = Daemon(args=ARGS).start()
        try:
            spec["dataset"] = upload(d, "breast_cancer")
            plain = wait_job(d, submit(d, spec), timeout=600)
            job_id = submit(d, spec)
            mid = wait_job(d, job_id, timeout=600, states=("running", "succeeded"),
                           until=lambda j: j["progress"]["trials_done"] >= 5)
            self.assertEqual(mid["state"], "running")
            d.kill()
            d.start()
            again = wait_job(d, job_id, timeout=600)
            self.assertEqual(again["state"], "succeeded", again)
            self.assertEqual(again["best"]["kind"], plain["best"]["kind"])
            self.assertEqual(members(again), members(plain))
            self.assertLessEqual(len(oof_files(d, job_id)), 16)
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
