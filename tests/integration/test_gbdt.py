"""Gradient-boosted trees as a family, end to end against the real binary:
a job of only gbdt trials on iris (multi-class), breast_cancer (binary) and
diabetes (regression) through HTTP and through the client, its model
document, predictions through the API equal to the offline scorer's, and
per-row explanations of every family (logistic, svm, linear, mlp, gbdt)
summing to the margin; the automatic job includes gbdt trials and ends by
its deadline; a gbdt trial is cancelled within a second, reports progress
per round in the metric's units, and one too big for the memory budget
fails with memory_limit; on a table under early_stopping.gbdt_min_rows
rows gbdt fits every tree, and stops early with gbdt_min_rows 0."""

import csv
import io
import json
import math
import os
import subprocess
import tempfile
import time
import unittest

from fitdtest import FITD, DATA, Daemon, DaemonTest, read_data, wait_job
from fitdtest import offline_predict as offline, submit_job as submit, upload_table as upload
from test_jobs import read_events

TABLES = {"iris": ("species", "classification"), "breast_cancer": ("diagnosis", "classification"),
          "diabetes": ("progression", "regression")}
TREE_KEYS = ("trees", "max_leaves", "max_depth", "min_child_weight", "min_leaf_rows",
             "min_split_gain", "subsample", "colsample", "max_bins")


def first_rows(name, n):
    """The first n rows of a table of tests/data, as CSV text and as JSON row objects."""
    with open(os.path.join(DATA, name + ".csv")) as f:
        lines = f.read().splitlines()
    text = "\n".join(lines[:n + 1]) + "\n"
    rows = [{k: number_or_text(v) for k, v in r.items()}
            for r in csv.DictReader(io.StringIO(text))]
    return text, rows


def number_or_text(v):
    try:
        return float(v)
    except ValueError:
        return v


class Checks(unittest.TestCase):
    def check_contributions(self, answer, nrows):
        """Each row's contributions and bias sum to its margin to 1e-9, and the
        margins are the predictions through the link."""
        c = answer["contributions"]
        k = len(c["outputs"])
        self.assertEqual(len(c["values"]), nrows)
        for i, (row, margins) in enumerate(zip(c["values"], c["margins"])):
            self.assertEqual(len(row), k)
            for out, m in zip(row, margins):
                self.assertEqual(len(out), len(c["columns"]) + 1)
                self.assertLess(abs(sum(out) - m), 1e-9, (i, out, m))
            if c["link"] == "identity":
                self.assertEqual(margins[0], answer["predictions"][i])
            elif c["link"] == "logit":
                p = 1 / (1 + math.exp(-margins[0]))
                self.assertLess(abs(p - answer["probabilities"][i][1]), 1e-12)
            else:
                top = max(margins)
                e = [math.exp(z - top) for z in margins]
                for pk, ek in zip(answer["probabilities"][i], e):
                    self.assertLess(abs(pk - ek / sum(e)), 1e-12)


class GbdtJobs(Checks):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(args=("--worker-threads", "2", "--reserved-cores", "0")).start()
        cls.ds = {name: upload(cls.d, name) for name in TABLES}

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_only_gbdt_on_three_tables_api_equals_offline(self):
        jobs = {name: submit(self.d, {"dataset": self.ds[name], "target": target,
                                      "space": {"models": ["gbdt"]},
                                      # one gbdt model: its trees are checked below
                                      "search": {"max_trials": 5, "seed": 3,
                                                 "ensemble": False}})
                for name, (target, _) in TABLES.items()}
        for name, job_id in jobs.items():
            target, task = TABLES[name]
            job = wait_job(self.d, job_id, timeout=600)
            self.assertEqual(job["state"], "succeeded", job)
            self.assertEqual(job["task"], task)
            _, _, board = self.d.request("GET", "/v1/jobs/%s/trials?limit=100" % job_id)
            for t in board["items"]:
                self.assertEqual(t["params"]["model"], "gbdt")
                self.assertNotIn("optimizer", t["params"])
                for key in TREE_KEYS:
                    self.assertIn(key, t["params"])
            model_id = job["best"]["model_id"]
            _, _, doc = self.d.request("GET", "/v1/models/" + model_id)
            self.assertEqual(doc["params"]["model"], "gbdt")
            self.assertEqual(set(doc["params"]["gbdt"]), set(TREE_KEYS))
            self.assertGreater(len(doc["trees"]["list"]), 0)
            self.assertEqual([c["column"] for c in doc["tree_importance"]],
                             [c["name"] for c in doc["columns"]])
            self.assertEqual(len(doc["importance"]), len(doc["columns"]))
            # The whole table through the API and through fitd predict: the same answer.
            status, _, online = self.d.request(
                "POST", "/v1/models/%s/predict" % model_id, body=read_data(name + ".csv"),
                headers={"Content-Type": "text/csv"})
            self.assertEqual(status, 200, online)
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(doc, f)
            try:
                path = os.path.join(DATA, name + ".csv")
                self.assertEqual(json.loads(offline(["--model", f.name, "--input", path,
                                                     "--format", "json"])), online)
                # Explanations: the API's (CSV with ?explain=true) sum to the margins and
                # equal the offline scorer's.
                text, _ = first_rows(name, 40)
                status, _, explained = self.d.request(
                    "POST", "/v1/models/%s/predict?explain=true" % model_id, body=text,
                    headers={"Content-Type": "text/csv"})
                self.assertEqual(status, 200, explained)
                self.check_contributions(explained, 40)
                with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as rows:
                    rows.write(text)
                try:
                    self.assertEqual(json.loads(offline(["--model", f.name, "--input", rows.name,
                                                         "--json", "--explain"])), explained)
                finally:
                    os.unlink(rows.name)
            finally:
                os.unlink(f.name)
            print("%s: gbdt %s %.4f" % (name, job["metric"], job["best"]["score"]))

    def test_small_table_fits_every_tree(self):
        # breast_cancer has 569 rows, under early_stopping.gbdt_min_rows (10,000
        # by default): every one of the 300 rounds is fitted, where with
        # gbdt_min_rows 0 the same setting stops early on its watched rows.
        space = {"models": ["gbdt"], "gbdt": {"trees": 300, "learning_rate": 0.3,
                                             "max_leaves": 16, "min_leaf_rows": 2,
                                             "subsample": 1, "colsample": 1}}
        trees = {}
        for name, early in (("default", None), ("always", {"gbdt_min_rows": 0})):
            spec = {"dataset": self.ds["breast_cancer"], "target": "diagnosis", "space": space,
                    "search": {"max_trials": 1, "ensemble": False}}
            if early is not None:
                spec["early_stopping"] = early
            job = wait_job(self.d, submit(self.d, spec), timeout=300)
            self.assertEqual(job["state"], "succeeded", job)
            self.assertEqual(job["spec"]["early_stopping"],
                             {"patience": 10, "gbdt_min_rows": 10000 if early is None else 0})
            _, _, doc = self.d.request("GET", "/v1/models/" + job["best"]["model_id"])
            trees[name] = len(doc["trees"]["list"])
        self.assertEqual(trees["default"], 300, trees)
        self.assertLess(trees["always"], 300, trees)

    def test_gbdt_trial_too_big_fails_with_memory_limit(self):
        job_id = submit(self.d, {"dataset": self.ds["breast_cancer"], "target": "diagnosis",
                                 "space": {"models": ["gbdt"],
                                           "gbdt": {"trees": 100000, "max_leaves": 131072}},
                                 "search": {"max_trials": 1}})
        job = wait_job(self.d, job_id, timeout=60)
        self.assertEqual((job["state"], job["error"]["code"]), ("failed", "no_trial_completed"))
        _, _, board = self.d.request("GET", "/v1/jobs/%s/trials" % job_id)
        self.assertEqual([(t["state"], t["error"]["code"]) for t in board["items"]],
                         [("failed", "memory_limit")])


class ExplainEveryFamily(Checks):
    """One fixed setting per family; the JSON body's "explain" and the CSV query's."""
    FAMILIES = [
        ("iris", {"models": "logistic", "optimizer": "lbfgs"}),
        ("breast_cancer", {"models": "svm", "optimizer": "lbfgs"}),
        ("diabetes", {"models": "linear", "optimizer": "lbfgs"}),
        ("iris", {"models": "mlp", "optimizer": "adam", "epochs": 30}),
        ("wine", {"models": "mlp", "optimizer": "adam", "epochs": 30}),
        ("diabetes", {"models": "mlp", "optimizer": "adam", "epochs": 30}),
        ("diabetes", {"models": "gbdt", "gbdt": {"trees": 50}}),
        ("iris", {"models": "gbdt", "gbdt": {"trees": 50}}),
    ]
    TARGETS = {"iris": "species", "breast_cancer": "diagnosis", "diabetes": "progression",
               "wine": "cultivar"}

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(args=("--worker-threads", "2", "--reserved-cores", "0")).start()
        ds = {name: upload(cls.d, name) for name in cls.TARGETS}
        cls.models = []
        jobs = [(name, submit(cls.d, {"dataset": ds[name], "target": cls.TARGETS[name],
                                      "space": space, "search": {"max_trials": 1}}))
                for name, space in cls.FAMILIES]
        for name, job_id in jobs:
            job = wait_job(cls.d, job_id, timeout=600)
            assert job["state"] == "succeeded", job
            cls.models.append((name, job["best"]["model_id"], job["best"]["params"]["model"]))

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_contributions_sum_to_the_margin(self):
        for name, model_id, family in self.models:
            text, rows = first_rows(name, 30)
            status, _, by_json = self.d.request("POST", "/v1/models/%s/predict" % model_id,
                                                body={"rows": rows, "explain": True})
            self.assertEqual(status, 200, by_json)
            self.check_contributions(by_json, 30)
            status, _, by_csv = self.d.request(
                "POST", "/v1/models/%s/predict?explain=true" % model_id, body=text,
                headers={"Content-Type": "text/csv"})
            self.assertEqual(status, 200, by_csv)
            self.assertEqual(by_csv["contributions"]["margins"],
                             by_json["contributions"]["margins"])
            status, _, plain = self.d.request("POST", "/v1/models/%s/predict" % model_id,
                                              body={"rows": rows, "explain": False})
            self.assertNotIn("contributions", plain)
            print("%s %s: %d columns, link %s" % (name, family, len(rows[0]) - 1,
                                                   by_json["contributions"]["link"]))

    def test_bad_explain_requests(self):
        _, model_id, _ = self.models[0]
        text, rows = first_rows("iris", 2)
        status, _, body = self.d.request("POST", "/v1/models/%s/predict" % model_id,
                                         body={"rows": rows, "explain": "yes"})
        self.assertEqual((status, body["error"]["code"]), (400, "wrong_type"))
        status, _, body = self.d.request("POST", "/v1/models/%s/predict?explain=1" % model_id,
                                         body=text, headers={"Content-Type": "text/csv"})
        self.assertEqual((status, body["error"]["code"]), (400, "invalid_parameter"))
        status, _, body = self.d.request("POST", "/v1/models/%s/predict" % model_id,
                                         body={"rows": rows * 501, "explain": True})
        self.assertEqual((status, body["error"]["code"]), (422, "too_many_rows"))


class Client(DaemonTest):
    daemon_args = ("--worker-threads", "2", "--reserved-cores", "0")

    def fitd(self, *args):
        env = dict(os.environ, FITD_URL="http://127.0.0.1:%d" % self.d.port)
        return subprocess.run([FITD] + list(args), env=env, capture_output=True, text=True,
                              timeout=600)

    def test_submit_models_gbdt_then_predict_with_explanations(self):
        iris = os.path.join(DATA, "iris.csv")
        p = self.fitd("submit", iris, "--target", "species", "--models", "gbdt",
                      "--max-trials", "3", "--seed", "2", "--follow")
        self.assertEqual(p.returncode, 0, p.stderr)
        model_id = [line for line in p.stdout.splitlines()
                    if line.startswith("best model: ")][0].split(": ")[1]
        _, _, doc = self.d.request("GET", "/v1/models/" + model_id)
        # one gbdt model, or an ensemble of them
        params = [doc["params"]] if "params" in doc else [m["model"]["params"]
                                                          for m in doc["members"]]
        self.assertEqual({p["model"] for p in params}, {"gbdt"})
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(doc, f)
        try:
            for fmt in (["--explain"], ["--explain", "--json"]):
                online = self.fitd("predict", "--model", model_id, "--input", iris, *fmt)
                self.assertEqual(online.returncode, 0, online.stderr)
                self.assertEqual(online.stdout, offline(["--model", f.name, "--input", iris] +
                                                        fmt))
            header = self.fitd("predict", "--model", model_id, "--input", iris,
                               "--explain").stdout
            self.assertTrue(header.startswith(
                "prediction,p_setosa,p_versicolor,p_virginica,c_setosa_sepal_length,"), header)
        finally:
            os.unlink(f.name)


class Budgets(DaemonTest):
    daemon_args = ("--worker-threads", "2", "--reserved-cores", "0")

    def test_automatic_job_includes_gbdt_and_ends_by_its_deadline(self):
        ds = upload(self.d, "breast_cancer")
        job_id = submit(self.d, {"dataset": ds, "target": "diagnosis",
                                 "search": {"max_seconds": 12}})
        job = wait_job(self.d, job_id, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertLess(job["progress"]["elapsed_s"], 12 + 2)
        _, _, board = self.d.request("GET", "/v1/jobs/%s/trials?limit=1000" % job_id)
        models = [t["params"]["model"] for t in board["items"]]
        self.assertIn("gbdt", models)
        print("automatic job: %d trials in %.1f s, %d gbdt, best %s" % (
            len(models), job["progress"]["elapsed_s"], models.count("gbdt"),
            job["best"]["params"]["model"]))

    def test_gbdt_cancel_within_a_second_and_progress_per_round(self):
        ds = upload(self.d, "digits")
        job_id = submit(self.d, {"dataset": ds, "target": "digit", "early_stopping": False,
                                 "validation": {"method": "holdout", "fraction": 0.2},
                                 "space": {"models": "gbdt",
                                           "gbdt": {"trees": 5000, "learning_rate": 0.001,
                                                    "max_leaves": 63, "min_leaf_rows": 1}},
                                 "search": {"max_trials": 2, "parallel_trials": 1}})
        wait_job(self.d, job_id, states=("running",),
                 until=lambda j: j["progress"]["trials_running"] > 0)
        time.sleep(3)
        t0 = time.time()
        status, _, j = self.d.request("POST", "/v1/jobs/%s/cancel" % job_id)
        self.assertEqual(status, 202, j)
        j = wait_job(self.d, job_id, timeout=10)
        self.assertLess(time.time() - t0, 1.5)
        self.assertEqual(j["state"], "cancelled")
        events = read_events(self.d.port, job_id)
        progress = [e[2] for e in events if e[1] == "trial_progress"]
        self.assertGreater(len(progress), 0)
        self.assertLessEqual(len(progress), 3 + 2)  # at most one a second
        rounds = [p["epoch"] for p in progress]
        self.assertEqual(rounds, sorted(rounds))
        for p in progress:
            self.assertGreaterEqual(p["score"], 0.0)  # accuracy, not a loss
            self.assertLessEqual(p["score"], 1.0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
