"""Jobs against the real binary: the seed example, a multi-trial search with
its leaderboard and predictions, bad specs, idempotency, cancel, deadlines,
and the live event stream (including resume across a restart)."""

import http.client
import json
import os
import sqlite3
import subprocess
import tempfile
import time
import unittest

from fitdtest import FITD, Daemon, DaemonTest, final_trial, offline_predict, read_data, wait_job

SEED_SPACE = {
    "models": ["linear"], "optimizer": ["sgd"], "learning_rate": [0.01],
    "batch_size": [32], "epochs": 1000, "regularization": ["none"], "loss": ["squared"],
}
# A setting that trains for a long time: many epochs of a wide network on digits.
SLOW_SPACE = {
    "models": ["mlp"], "optimizer": ["sgd"], "learning_rate": [0.001], "batch_size": [16],
    "epochs": 100000, "mlp": {"hidden_layers": [2], "units": [256]},
}


def upload(d, name):
    status, _, ds = d.upload(name, read_data(name + ".csv"))
    assert status == 201, ds
    return ds["id"]


def submit(d, spec, headers=None):
    return d.request("POST", "/v1/jobs", body=spec, headers=headers)


class SeedExample(DaemonTest):
    def test_sgd_linear_regression_finds_slope_and_intercept(self):
        ds = upload(self.d, "seed_linear")
        status, _, job = submit(self.d, {
            "dataset": ds, "target": "y", "space": SEED_SPACE,
            "early_stopping": False, "search": {"max_trials": 1, "seed": 1},
            "validation": {"method": "holdout", "fraction": 0.2}})
        self.assertEqual(status, 201, job)
        self.assertEqual(job["state"], "queued")
        self.assertEqual(job["task"], "regression")
        self.assertEqual(job["spec"]["search"]["max_trials"], 1)
        job = wait_job(self.d, job["id"])
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["progress"]["trials_done"], 1)
        self.assertIsNotNone(job["best"]["model_id"])
        self.assertEqual(job["best"]["params"]["optimizer"], "sgd")
        status, _, model = self.d.request("GET", "/v1/models/" + job["best"]["model_id"])
        self.assertEqual(status, 200, model)
        self.assertTrue(model["refit"])
        coef = [c for c in model["coefficients"] if c["column"] == "x"]
        self.assertEqual(len(coef), 1)
        self.assertAlmostEqual(coef[0]["value"], 2.0, delta=0.15)
        self.assertAlmostEqual(model["intercepts"][0], 1.0, delta=0.1)
        # Predicting y at x = 0 and x = 1 gives about 1 and 3.
        status, _, pred = self.d.request(
            "POST", "/v1/models/%s/predict" % job["best"]["model_id"],
            body={"rows": [{"x": 0}, {"x": 1}]})
        self.assertEqual(status, 200, pred)
        self.assertAlmostEqual(pred["predictions"][0], 1.0, delta=0.1)
        self.assertAlmostEqual(pred["predictions"][1], 3.0, delta=0.15)


class LeanSingleJob(unittest.TestCase):
    """search.refit false: a job of one trial fits once. Its model is the
    trial's model of the holdout's training rows (no refit on all rows, no
    ensemble), explained by the trial itself; the one trial gets every
    worker thread."""

    def test_refit_false_keeps_the_trials_model(self):
        d = Daemon(args=("--worker-threads", "2"))
        d.start()
        try:
            ds = upload(d, "iris")
            status, _, job = submit(d, {
                "dataset": ds, "target": "species",
                "space": {"models": ["logistic"], "optimizer": ["lbfgs"],
                          "regularization": ["l2"], "penalty": [0.01]},
                "validation": {"method": "holdout", "fraction": 0.2},
                "search": {"max_trials": 1, "refit": False}})
            self.assertEqual(status, 201, job)
            self.assertIs(job["spec"]["search"]["refit"], False)
            self.assertIs(job["spec"]["search"]["ensemble"], False)
            job = wait_job(d, job["id"])
            self.assertEqual(job["state"], "succeeded", job)
            self.assertEqual(job["progress"]["trials_done"], 1)
            self.assertEqual(job["runtime"], {"parallel_trials": 1, "threads_per_trial": 2})
            self.assertEqual(job["best"]["kind"], "single")
            self.assertIn("search.refit is false", job["best"]["reason"])
            status, _, model = d.request("GET", "/v1/models/" + job["best"]["model_id"])
            self.assertEqual(status, 200, model)
            self.assertIs(model["refit"], False)
            self.assertEqual(model["trial"], 0)
            names = sorted(i["column"] for i in model["importance"])
            self.assertEqual(names, ["petal_length", "petal_width", "sepal_length",
                                     "sepal_width"])
            with open(d.log_path) as f:
                log = f.read()
            self.assertIn("event=job_finished", log)
            self.assertNotIn("event=refit_started", log)
            # The same job with a refit: its importance is that of the same
            # fold-0 model, read back from the trial's model file rather
            # than fitted again, so it equals the trial's to the last digit.
            status, _, again = submit(d, {
                "dataset": ds, "target": "species",
                "space": {"models": ["logistic"], "optimizer": ["lbfgs"],
                          "regularization": ["l2"], "penalty": [0.01]},
                "validation": {"method": "holdout", "fraction": 0.2},
                "search": {"max_trials": 1, "refit": True}})
            self.assertEqual(status, 201, again)
            again = wait_job(d, again["id"])
            self.assertEqual(again["state"], "succeeded", again)
            status, _, refit = d.request("GET", "/v1/models/" + again["best"]["model_id"])
            self.assertEqual(status, 200, refit)
            self.assertIs(refit["refit"], True)
            self.assertEqual(refit["importance"], model["importance"])
            d.stop()  # the whole log is written
            with open(d.log_path) as f:
                log = f.read()
            self.assertRegex(log, r"event=refit_finished job=%s .*fold0=stand-in" % again["id"])
        finally:
            d.stop()
            d.cleanup()


class PredictColumns(DaemonTest):
    """Prediction input names only columns the model knows: its inputs, and
    its target and its job's excluded columns (ignored). A JSON row with any other key, or naming none of
    the inputs, is refused; so is a CSV header with another column; the API
    and the offline `fitd predict` follow the same rule."""

    INPUTS = ("sepal_length", "sepal_width", "petal_length", "petal_width")

    def setUp(self):
        super().setUp()
        ds = upload(self.d, "iris")
        status, _, job = submit(self.d, {
            "dataset": ds, "target": "species",
            "space": {"models": ["logistic"], "optimizer": ["lbfgs"]},
            "validation": {"method": "holdout", "fraction": 0.2}, "search": {"max_trials": 1}})
        self.assertEqual(status, 201, job)
        job = wait_job(self.d, job["id"])
        self.assertEqual(job["state"], "succeeded", job)
        self.model = job["best"]["model_id"]
        self.path = "/v1/models/%s/predict" % self.model

    def predict(self, body, content_type=None):
        headers = {"Content-Type": content_type} if content_type else None
        return self.d.request("POST", self.path, body=body, headers=headers)

    def test_json_rows(self):
        row = dict(zip(self.INPUTS, (5.1, 3.5, 1.4, 0.2)))
        # The issue as found: a key the model does not know scored as all-missing.
        resp = self.predict({"rows": [{"nope": 1}]})
        self.assertError(resp, 400, "unknown_column")
        self.assertIn("rows[0]", resp[2]["error"]["message"])
        self.assertIn("'nope'", resp[2]["error"]["message"])
        resp = self.predict({"rows": [row, dict(row, petal_lenght=1.4)]})
        self.assertError(resp, 400, "unknown_column")
        self.assertIn("rows[1]", resp[2]["error"]["message"])
        self.assertIn("'petal_lenght'", resp[2]["error"]["message"])
        # A row naming none of the inputs: an empty object, or the target alone.
        for empty in ({}, {"species": "setosa"}):
            resp = self.predict({"rows": [row, empty]})
            self.assertError(resp, 400, "empty_row")
            self.assertIn("rows[1]", resp[2]["error"]["message"])
        # The target may be there and is ignored; absent or null inputs are missing.
        status, _, pred = self.predict({"rows": [dict(row, species="virginica"),
                                                 {"petal_length": 1.4, "sepal_width": None}]})
        self.assertEqual((status, pred["predictions"][0]), (200, "setosa"), pred)

    def test_csv_header(self):
        csv = read_data("iris.csv")
        status, _, pred = self.predict(csv, "text/csv")  # with the target column
        self.assertEqual((status, len(pred["predictions"])), (200, 150), pred)
        lines = csv.decode().splitlines()
        with_id = "\n".join(["id," + lines[0]] + ["%d,%s" % (i, l) for i, l in
                                                    enumerate(lines[1:])]) + "\n"
        resp = self.predict(with_id.encode(), "text/csv")
        self.assertError(resp, 400, "unknown_column")
        self.assertIn("column 1 ('id')", resp[2]["error"]["message"])
        # A missing input is said first, as before.
        resp = self.predict(b"sepal_length,nope\n1,2\n", "text/csv")
        self.assertError(resp, 422, "missing_column")
        # fitd predict offline: the same rule, the same words.
        status, _, model = self.d.request("GET", "/v1/models/" + self.model)
        with tempfile.TemporaryDirectory() as tmp:
            paths = {n: os.path.join(tmp, n) for n in ("model.json", "iris.csv", "id.csv")}
            with open(paths["model.json"], "w") as f:
                json.dump(model, f)
            with open(paths["iris.csv"], "wb") as f:
                f.write(csv)
            with open(paths["id.csv"], "w") as f:
                f.write(with_id)
            cmd = [FITD, "predict", "--model", paths["model.json"], "--input"]
            self.assertEqual(subprocess.run(cmd + [paths["iris.csv"]],
                                            capture_output=True).returncode, 0)
            r = subprocess.run(cmd + [paths["id.csv"]], capture_output=True, text=True)
            self.assertEqual(r.returncode, 1, r.stdout[:200])
            self.assertIn("column 1 ('id')", r.stderr)
            self.assertEqual(r.stdout, "")

    def test_excluded_columns_may_be_given(self):
        """A job that excluded a column (an id, say) makes a model that takes
        rows of its training table as they are: the excluded column is
        ignored, here as through `fitd predict`; another stays refused."""
        lines = read_data("iris.csv").decode().splitlines()
        with_id = ("\n".join(["id," + lines[0]] + ["%d,%s" % (i, l) for i, l in
                                                    enumerate(lines[1:])]) + "\n").encode()
        status, _, ds = self.d.upload("iris_id", with_id)
        self.assertEqual(status, 201, ds)
        status, _, job = submit(self.d, {
            "dataset": ds["id"], "target": "species", "exclude_columns": ["id"],
            "space": {"models": ["logistic"], "optimizer": ["lbfgs"]},
            "validation": {"method": "holdout", "fraction": 0.2}, "search": {"max_trials": 1}})
        self.assertEqual(status, 201, job)
        job = wait_job(self.d, job["id"])
        self.assertEqual(job["state"], "succeeded", job)
        model_id = job["best"]["model_id"]
        status, _, model = self.d.request("GET", "/v1/models/" + model_id)
        self.assertEqual(model["excluded_columns"], ["id"])
        self.assertNotIn("id", [c["name"] for c in model["columns"]])
        path = "/v1/models/%s/predict" % model_id
        status, _, plain = self.d.request("POST", path, body=read_data("iris.csv"),
                                          headers={"Content-Type": "text/csv"})
        self.assertEqual(status, 200, plain)
        status, _, pred = self.d.request("POST", path, body=with_id,
                                         headers={"Content-Type": "text/csv"})
        self.assertEqual((status, pred), (200, plain))
        row = dict(zip(self.INPUTS, (5.1, 3.5, 1.4, 0.2)))
        status, _, pred = self.d.request("POST", path, body={"rows": [dict(row, id=7)]})
        self.assertEqual((status, pred["predictions"]), (200, ["setosa"]), pred)
        resp = self.d.request("POST", path, body={"rows": [dict(row, id=7, idx=7)]})
        self.assertError(resp, 400, "unknown_column")
        self.assertIn("'idx'", resp[2]["error"]["message"])
        with tempfile.TemporaryDirectory() as tmp:
            paths = {n: os.path.join(tmp, n) for n in ("model.json", "bad.json", "id.csv")}
            with open(paths["model.json"], "w") as f:
                json.dump(model, f)
            with open(paths["bad.json"], "w") as f:
                json.dump(dict(model, excluded_columns="id"), f)
            with open(paths["id.csv"], "wb") as f:
                f.write(with_id)
            out = offline_predict(["--model", paths["model.json"], "--input", paths["id.csv"],
                                   "--format", "json"])
            self.assertEqual(json.loads(out), plain)
            r = subprocess.run([FITD, "predict", "--model", paths["bad.json"], "--input",
                                paths["id.csv"]], capture_output=True, text=True)
            self.assertEqual(r.returncode, 1, r.stdout[:200])
            self.assertIn("excluded_columns", r.stderr)


class Search(DaemonTest):
    daemon_args = ("--worker-threads", "2")

    def test_iris_search_leaderboard_and_predict(self):
        ds = upload(self.d, "iris")
        status, _, job = submit(self.d, {
            "dataset": ds, "target": "species",
            "space": {"models": ["logistic", "svm"], "optimizer": ["lbfgs", "adam"],
                      "epochs": 200},
            "search": {"algorithm": "random", "max_trials": 6, "seed": 3},
            "validation": {"method": "cv", "folds": 3}})
        self.assertEqual(status, 201, job)
        self.assertEqual(job["task"], "classification")
        self.assertEqual(job["metric"], "accuracy")
        job = wait_job(self.d, job["id"])
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["progress"]["trials_done"], 6)
        self.assertEqual(job["runtime"]["parallel_trials"] * job["runtime"]["threads_per_trial"], 2)
        status, _, board = self.d.request("GET", "/v1/jobs/%s/trials" % job["id"])
        self.assertEqual(status, 200)
        items = board["items"]
        self.assertEqual(len(items), 6)
        scores = [t["score"] for t in items if t["state"] == "completed"]
        self.assertEqual(scores, sorted(scores, reverse=True))
        final = final_trial(items, True, 3)
        self.assertEqual(final["trial"], job["best"]["trial"])
        self.assertEqual(final["score"], job["best"]["score"])
        self.assertGreater(final["score"], 0.9)
        for t in items:
            self.assertEqual(len(t["fold_scores"]), 3)
            self.assertIn(t["params"]["model"], ("logistic", "svm"))
        # Page through the leaderboard.
        status, _, page = self.d.request("GET", "/v1/jobs/%s/trials?limit=4" % job["id"])
        self.assertEqual((len(page["items"]), page["next_offset"]), (4, 4))
        status, _, page = self.d.request("GET", "/v1/jobs/%s/trials?limit=4&offset=4" % job["id"])
        self.assertEqual((len(page["items"]), page["next_offset"]), (2, None))

        model_id = job["best"]["model_id"]
        status, _, model = self.d.request("GET", "/v1/models/" + model_id)
        self.assertEqual(model["format"], "fitd-model")
        self.assertEqual(model["classes"], ["setosa", "versicolor", "virginica"])
        self.assertEqual(len(model["importance"]), 4)
        csv = read_data("iris.csv")
        status, _, pred = self.d.request("POST", "/v1/models/%s/predict" % model_id, body=csv,
                                         headers={"Content-Type": "text/csv"})
        self.assertEqual(status, 200, pred)
        self.assertEqual(len(pred["predictions"]), 150)
        truth = [line.split(",")[-1] for line in csv.decode().splitlines()[1:]]
        acc = sum(p == t for p, t in zip(pred["predictions"], truth)) / 150
        self.assertGreater(acc, 0.9)
        for row in pred["probabilities"]:
            self.assertAlmostEqual(sum(row), 1.0, places=6)
        status, _, pred = self.d.request("POST", "/v1/models/%s/predict" % model_id, body={
            "rows": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
                      "petal_width": 0.2}]})
        self.assertEqual((status, pred["predictions"]), (200, ["setosa"]))
        # Bad prediction inputs.
        self.assertError(self.d.request("POST", "/v1/models/%s/predict" % model_id,
                                        body={"rows": [{"sepal_length": "x"}]}), 400, "wrong_type")
        self.assertError(self.d.request("POST", "/v1/models/%s/predict" % model_id,
                                        body={"nope": 1}), 400, "wrong_type")
        self.assertError(self.d.request("POST", "/v1/models/%s/predict" % model_id,
                                        body=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"}),
                         422, "missing_column")
        self.assertError(self.d.request("GET", "/v1/models/mdl_00000000000000000000"),
                         404, "model_not_found")
        self.assertError(self.d.request("GET", "/v1/models/nope"), 400, "invalid_id")
        # Offline scoring gives the very same answer as the API.
        status, _, api_pred = self.d.request("POST", "/v1/models/%s/predict" % model_id, body=csv,
                                             headers={"Content-Type": "text/csv"})
        with tempfile.TemporaryDirectory() as tmp:
            paths = {n: os.path.join(tmp, n) for n in ("model.json", "iris.csv")}
            with open(paths["model.json"], "w") as f:
                json.dump(model, f)
            with open(paths["iris.csv"], "wb") as f:
                f.write(csv)
            cmd = [FITD, "predict", "--model", paths["model.json"], "--input", paths["iris.csv"]]
            out = subprocess.run(cmd + ["--format", "json"], check=True, capture_output=True)
            self.assertEqual(json.loads(out.stdout), api_pred)
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            lines = out.stdout.splitlines()
            self.assertEqual(lines[0], "prediction,p_setosa,p_versicolor,p_virginica")
            self.assertEqual([l.split(",")[0] for l in lines[1:]], api_pred["predictions"])
            bad = subprocess.run(cmd[:4] + ["--input", "/nonexistent.csv"], capture_output=True)
            self.assertEqual(bad.returncode, 1)
            self.assertIn(b"/nonexistent.csv", bad.stderr)
            self.assertEqual(subprocess.run([FITD, "predict"], capture_output=True).returncode, 2)
        # The model survives a restart.
        self.d.stop()
        self.d.start()
        status, _, again = self.d.request("GET", "/v1/models/" + model_id)
        self.assertEqual((status, again["layers"]), (200, model["layers"]))

    def test_list_filter_and_idempotency(self):
        ds = upload(self.d, "iris")
        spec = {"dataset": ds, "target": "species", "space": {"models": ["logistic"],
                "optimizer": ["lbfgs"]}, "search": {"max_trials": 1}}
        s1, h1, a = submit(self.d, spec, headers={"Idempotency-Key": "k-1"})
        s2, h2, b = submit(self.d, spec, headers={"Idempotency-Key": "k-1"})
        self.assertEqual((s1, s2), (201, 201))
        self.assertEqual(a["id"], b["id"])
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        other = dict(spec, search={"max_trials": 2})
        self.assertError(submit(self.d, other, headers={"Idempotency-Key": "k-1"}),
                         409, "idempotency_key_reused")
        _, _, c = submit(self.d, spec)
        wait_job(self.d, a["id"])
        wait_job(self.d, c["id"])
        status, _, page = self.d.request("GET", "/v1/jobs?state=succeeded")
        self.assertEqual(sorted(j["id"] for j in page["items"]), sorted([a["id"], c["id"]]))
        status, _, page = self.d.request("GET", "/v1/jobs?state=running")
        self.assertEqual(page["items"], [])
        self.assertError(self.d.request("GET", "/v1/jobs?state=bogus"), 400, "invalid_parameter")
        status, _, page = self.d.request("GET", "/v1/jobs?limit=1")
        self.assertEqual(page["next_after"], a["id"])
        self.assertError(self.d.request("POST", "/v1/jobs/%s/cancel" % a["id"]), 409, "job_finished")

    def test_bad_specs(self):
        ds = upload(self.d, "iris")
        cases = [
            (b"not json", 400, "malformed_json"),
            (b"[1]", 400, "wrong_type"),
            ({"target": "species"}, 422, "missing_field"),
            ({"dataset": 5, "target": "species"}, 400, "wrong_type"),
            ({"dataset": "ds_00000000000000000000", "target": "species"}, 404, "dataset_not_found"),
            ({"dataset": "../etc", "target": "species"}, 404, "dataset_not_found"),
            ({"dataset": ds, "target": "nope"}, 422, "unknown_column"),
            ({"dataset": ds, "target": "species", "bogus": 1}, 400, "unknown_field"),
            ({"dataset": ds, "target": "species", "search": {"max_trials": 0}}, 422, "out_of_range"),
            ({"dataset": ds, "target": "species", "search": {"max_trials": "x"}}, 400, "wrong_type"),
            ({"dataset": ds, "target": "species", "metric": "rmse"}, 422, "invalid_combination"),
        ]
        for body, status, code in cases:
            self.assertError(submit(self.d, body), status, code)
        status, _, page = self.d.request("GET", "/v1/jobs")
        self.assertEqual(page["items"], [])


def spoil_dataset_file(d, ds):
    """Replaces dataset ds's file in the state directory with garbage."""
    path = os.path.join(d.state_dir, "datasets", ds)
    with open(path + ".spoilt", "wb") as f:
        f.write(b"not a dataset file" * 1000)
    os.replace(path + ".spoilt", path)


class SubmissionReadsNoFile(DaemonTest):
    """A submission is validated against the column facts kept at upload,
    never the dataset file: it costs the same on any table."""

    def test_spoilt_file_still_validates_with_the_right_task(self):
        cases = [("iris", "species", "classification", "accuracy"),
                 ("seed_linear", "y", "regression", "rmse"),
                 ("digits", "digit", "classification", "accuracy")]  # integers 0..9
        for name, target, task, metric in cases:
            ds = upload(self.d, name)
            spoil_dataset_file(self.d, ds)
            status, _, job = submit(self.d, {"dataset": ds, "target": target,
                                             "search": {"max_trials": 1}})
            self.assertEqual(status, 201, job)
            self.assertEqual((job["task"], job["metric"]), (task, metric), name)
            # The job's own load reads the file: it fails, and says why.
            job = wait_job(self.d, job["id"])
            self.assertEqual(job["state"], "failed", job)
        # Bad specs are still judged on the facts alone.
        self.assertError(submit(self.d, {"dataset": ds, "target": "nope"}), 422,
                         "unknown_column")
        self.assertError(submit(self.d, {"dataset": ds, "target": "digit",
                                         "task": "regression", "metric": "accuracy"}),
                         422, "invalid_combination")

    def test_datasets_from_before_the_facts_are_described_once(self):
        """A state directory of schema 4 (no facts kept): the first job on
        each dataset reads its file once and keeps the facts."""
        iris, digits = upload(self.d, "iris"), upload(self.d, "digits")
        self.d.stop()
        db = sqlite3.connect(os.path.join(self.d.state_dir, "fitd.db"))
        db.executescript("DROP TABLE IF EXISTS dataset_columns;"
                         "ALTER TABLE jobs DROP COLUMN best_detail;"
                         "UPDATE schema_version SET version = 4;")
        db.close()
        self.d.start()
        for ds, target in [(digits, "digit"), (digits, "digit"), (iris, "species")]:
            status, _, job = submit(self.d, {"dataset": ds, "target": target,
                                             "search": {"max_trials": 1}})
            self.assertEqual(status, 201, job)
            self.assertEqual(job["task"], "classification")
            # Described by the first job: the file is not read again.
            spoil_dataset_file(self.d, ds)
        self.d.stop()  # every line of the log written out, not still in the pipe
        with open(self.d.log_path, "rb") as f:
            log = f.read().decode()
        self.assertEqual(log.count("event=dataset_described id=%s" % digits), 1, log)
        self.assertEqual(log.count("event=dataset_described id=%s" % iris), 1, log)


class CancelAndDeadline(DaemonTest):
    daemon_args = ("--worker-threads", "1")

    def test_cancel_stops_running_trials_quickly(self):
        ds = upload(self.d, "digits")
        status, _, job = submit(self.d, {"dataset": ds, "target": "digit", "space": SLOW_SPACE,
                                         "early_stopping": False,
                                         "search": {"max_trials": 3}})
        self.assertEqual(status, 201, job)
        wait_job(self.d, job["id"], states=("running",),
                 until=lambda j: j["progress"]["trials_running"] > 0)
        time.sleep(0.5)
        t0 = time.time()
        status, _, j = self.d.request("POST", "/v1/jobs/%s/cancel" % job["id"])
        self.assertEqual(status, 202, j)
        self.assertTrue(j["cancel_requested"])
        j = wait_job(self.d, job["id"], timeout=10)
        self.assertLess(time.time() - t0, 1.5)
        self.assertEqual(j["state"], "cancelled")
        _, _, board = self.d.request("GET", "/v1/jobs/%s/trials" % job["id"])
        self.assertEqual([t["state"] for t in board["items"]], ["interrupted"])

    def test_cancel_queued_job(self):
        ds = upload(self.d, "digits")
        spec = {"dataset": ds, "target": "digit", "space": SLOW_SPACE, "early_stopping": False,
                "search": {"max_trials": 1}}
        _, _, first = submit(self.d, spec)
        wait_job(self.d, first["id"], states=("running",))
        _, _, second = submit(self.d, spec)
        self.assertEqual(second["state"], "queued")
        status, _, j = self.d.request("POST", "/v1/jobs/%s/cancel" % second["id"])
        self.assertEqual(status, 202, j)
        # The only thread is busy: the second job never got one, so nothing runs for it.
        j = wait_job(self.d, second["id"], timeout=5)
        self.assertEqual(j["state"], "cancelled")
        _, _, board = self.d.request("GET", "/v1/jobs/%s/trials" % second["id"])
        self.assertEqual(board["items"], [])
        self.d.request("POST", "/v1/jobs/%s/cancel" % first["id"])
        self.assertEqual(wait_job(self.d, first["id"])["state"], "cancelled")

    def test_jobs_beyond_the_running_cap_wait_queued_in_order(self):
        self.d.cleanup()
        self.d = Daemon(args=("--worker-threads", "1", "--max-running-jobs", "2")).start()
        ds = upload(self.d, "digits")
        slow = {"dataset": ds, "target": "digit", "space": SLOW_SPACE, "early_stopping": False,
                "search": {"max_trials": 1}}
        jobs = [submit(self.d, slow)[2] for _ in range(3)]
        quick = submit(self.d, {"dataset": ds, "target": "digit",
                                "space": {"models": ["logistic"]}, "search": {"max_trials": 1}})[2]
        wait_job(self.d, jobs[1]["id"], states=("running",))
        time.sleep(1)
        states = [self.d.request("GET", "/v1/jobs/" + j["id"])[2]["state"] for j in jobs + [quick]]
        self.assertEqual(states, ["running", "running", "queued", "queued"])
        # A slot frees: the oldest queued job takes it, the next still waits.
        self.d.request("POST", "/v1/jobs/%s/cancel" % jobs[0]["id"])
        wait_job(self.d, jobs[2]["id"], states=("running",), timeout=10)
        self.assertEqual(self.d.request("GET", "/v1/jobs/" + quick["id"])[2]["state"], "queued")
        for j in jobs[1:]:
            self.d.request("POST", "/v1/jobs/%s/cancel" % j["id"])
        self.assertEqual(wait_job(self.d, quick["id"])["state"], "succeeded")

    def test_deadline_ends_job_and_keeps_finished_trials(self):
        ds = upload(self.d, "iris")
        t0 = time.time()
        status, _, job = submit(self.d, {
            "dataset": ds, "target": "species",
            "space": {"models": ["logistic", "mlp"], "optimizer": ["adam"], "epochs": 300,
                      "mlp": {"hidden_layers": [1], "units": [32]}},
            "search": {"algorithm": "random", "max_trials": 10000, "max_seconds": 3}})
        self.assertEqual(status, 201, job)
        j = wait_job(self.d, job["id"], timeout=30)
        self.assertLess(time.time() - t0, 3 + 2 + 0.5)
        self.assertEqual(j["state"], "succeeded", j)
        self.assertGreater(j["progress"]["trials_done"], 0)
        self.assertLessEqual(j["progress"]["elapsed_s"], 5.0)
        self.assertIsNotNone(j["best"]["model_id"])
        _, _, board = self.d.request("GET", "/v1/jobs/%s/trials?limit=1000" % job["id"])
        states = {t["state"] for t in board["items"]}
        self.assertIn("completed", states)
        self.assertTrue(states <= {"completed", "timeout"}, states)


class MemoryBudget(DaemonTest):
    daemon_args = ("--trial-memory-mib", "8")

    def test_trials_over_the_budget_fail_and_small_ones_run(self):
        spec = {"dataset": upload(self.d, "digits"), "target": "digit",
                "space": {"models": ["mlp"], "optimizer": ["adam"],
                          "mlp": {"hidden_layers": [2], "units": [512]}},
                "search": {"max_trials": 2}}
        _, _, big = submit(self.d, spec)
        small = dict(spec, space={"models": ["logistic"], "optimizer": ["lbfgs"]})
        _, _, small = submit(self.d, small)
        big, small = wait_job(self.d, big["id"]), wait_job(self.d, small["id"])
        self.assertEqual((big["state"], big["error"]["code"]), ("failed", "no_trial_completed"))
        _, _, board = self.d.request("GET", "/v1/jobs/%s/trials" % big["id"])
        for t in board["items"]:
            self.assertEqual((t["state"], t["error"]["code"]), ("failed", "memory_limit"))
            self.assertIn("budget of 8 MiB", t["error"]["message"])
        self.assertEqual(small["state"], "succeeded", small)
        self.assertEqual(self.d.request("GET", "/healthz")[0], 200)


def read_events(port, job_id, last_id=None, stop_after=None, timeout=60, until_id=None,
                broken_ok=False):
    """Reads an SSE stream until it ends, stop_after events or an id >= until_id;
    returns [(id, type, data)]. With broken_ok, a connection the daemon drops
    (it was killed) ends the stream instead of failing."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    conn.request("GET", "/v1/jobs/%s/events" % job_id, headers=headers)
    resp = conn.getresponse()
    assert resp.status == 200, resp.status
    assert resp.getheader("Content-Type") == "text/event-stream"
    events, cur = [], {}
    while True:
        try:
            line = resp.readline()
        except (ConnectionError, http.client.IncompleteRead):
            if not broken_ok:
                raise
            break
        if not line:
            break
        line = line.decode().rstrip("\n")
        if line == "":
            if "id" in cur:
                events.append((int(cur["id"]), cur["event"], json.loads(cur["data"])))
                if stop_after is not None and len(events) >= stop_after:
                    break
                if until_id is not None and events[-1][0] >= until_id:
                    break
            cur = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(": ")
            cur[key] = value
    conn.close()
    return events


class Events(unittest.TestCase):
    def test_stream_resumes_across_restart(self):
        d = Daemon(args=("--worker-threads", "1")).start()
        try:
            status, _, ds = d.upload("iris", read_data("iris.csv"))
            status, _, job = submit(d, {
                "dataset": ds["id"], "target": "species",
                "space": {"models": ["logistic"], "optimizer": ["adam"], "epochs": 400},
                "early_stopping": False,
                "search": {"algorithm": "random", "max_trials": 6, "seed": 5}})
            self.assertEqual(status, 201, job)
            first = read_events(d.port, job["id"], stop_after=4)
            self.assertEqual(first[0][1], "job_state")
            self.assertEqual(first[0][2]["state"], "queued")
            d.kill()
            d.start()
            rest = read_events(d.port, job["id"], last_id=first[-1][0])
            events = first + rest
            ids = [e[0] for e in events]
            self.assertEqual(ids, sorted(set(ids)), "ids must increase without duplicates")
            self.assertEqual(events[-1][1], "job_state")
            self.assertEqual(events[-1][2]["state"], "succeeded")
            types = {e[1] for e in events}
            self.assertTrue({"job_state", "trial_started", "trial_finished", "new_best"} <= types,
                            types)
            # A full replay from the start equals what was seen in two parts.
            again = read_events(d.port, job["id"])
            self.assertEqual([e[0] for e in again], ids)
            # Resuming at or past the end of a finished job's stream ends it at once.
            for last in (ids[-1], ids[-1] + 1000):
                t0 = time.time()
                self.assertEqual(read_events(d.port, job["id"], last_id=last, timeout=10), [])
                self.assertLess(time.time() - t0, 5)
        finally:
            d.cleanup()

    def test_many_streams_with_reconnects(self):
        """100 clients follow one job at once; each drops its connection after
        a few events and resumes with Last-Event-ID. Every client ends with
        the same ids as a full replay: none missed, none twice."""
        import threading
        d = Daemon(args=("--worker-threads", "1")).start()
        try:
            _, _, ds = d.upload("iris", read_data("iris.csv"))
            _, _, job = submit(d, {
                "dataset": ds["id"], "target": "species",
                "space": {"models": ["logistic"], "optimizer": ["adam"], "epochs": 1000},
                "early_stopping": False,
                "search": {"algorithm": "random", "max_trials": 8, "seed": 9}})
            results, errors = [None] * 100, []

            def follow(k):
                try:
                    first = read_events(d.port, job["id"], stop_after=2 + k % 5)
                    rest = read_events(d.port, job["id"], last_id=first[-1][0], timeout=120)
                    results[k] = [e[0] for e in first + rest]
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append("client %d: %r" % (k, e))

            threads = [threading.Thread(target=follow, args=(k,)) for k in range(100)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(180)
            self.assertEqual(errors, [])
            full = [e[0] for e in read_events(d.port, job["id"])]
            self.assertEqual(full[-1], max(full))
            for k, ids in enumerate(results):
                self.assertEqual(ids, full, "client %d" % k)
            self.assertEqual(wait_job(d, job["id"])["state"], "succeeded")
        finally:
            d.cleanup()

    def test_events_seen_live_survive_kills(self):
        """Whatever a stream has sent was committed: SIGKILL the daemon at
        random moments while a client follows the job live, restart it, and
        every event seen live must be in the replay with the same content."""
        import random
        import threading
        rng = random.Random(11)
        d = Daemon(args=("--worker-threads", "2")).start()
        try:
            _, _, ds = d.upload("iris", read_data("iris.csv"))
            _, _, job = submit(d, {
                "dataset": ds["id"], "target": "species",
                "space": {"models": ["logistic", "mlp"], "optimizer": ["adam"], "epochs": 300,
                          "mlp": {"hidden_layers": [1], "units": [16]}},
                "early_stopping": False,
                "search": {"algorithm": "random", "max_trials": 40, "parallel_trials": 2,
                           "seed": 4}})
            seen = {}
            for _ in range(8):
                live = []
                reader = threading.Thread(target=lambda: live.extend(
                    read_events(d.port, job["id"], broken_ok=True)))
                reader.start()
                time.sleep(rng.uniform(0.3, 1.5))
                d.kill()
                reader.join(30)
                self.assertFalse(reader.is_alive())
                d.start()
                if not live:
                    continue
                replay = {e[0]: e for e in read_events(d.port, job["id"],
                                                       until_id=max(e[0] for e in live))}
                for e in live:
                    self.assertEqual(replay.get(e[0]), e, "event %d seen live" % e[0])
                seen.update((e[0], e) for e in live)
            final = {e[0]: e for e in read_events(d.port, job["id"], timeout=600)}
            for k, e in seen.items():
                self.assertEqual(final.get(k), e)
            self.assertEqual(final[max(final)][2]["state"], "succeeded")
            print("events seen live across 8 kills: %d, all in the replay" % len(seen))
        finally:
            d.cleanup()

    def test_progress_events_are_throttled(self):
        d = Daemon(args=("--worker-threads", "1")).start()
        try:
            _, _, ds = d.upload("digits", read_data("digits.csv"))
            _, _, job = submit(d, {"dataset": ds["id"], "target": "digit",
                                   "space": dict(SLOW_SPACE, epochs=40),
                                   "early_stopping": False, "search": {"max_trials": 1},
                                   "validation": {"method": "holdout", "fraction": 0.2}})
            t0 = time.time()
            events = read_events(d.port, job["id"])
            elapsed = time.time() - t0
            progress = [e for e in events if e[1] == "trial_progress"]
            self.assertGreater(len(progress), 0)
            self.assertLessEqual(len(progress), elapsed + 2)
            self.assertIn("train_loss", progress[0][2])
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
