#!/usr/bin/python3
"""Model aliases against the real binary: create, switch, read, list by pages
and delete; predictions through an alias answer as the model's own do and
name the model; an alias keeps its model past the model's job and lets it go
last; switching an alias back and forth under a load of concurrent
predictions fails none of them and every answer comes whole from one of the
two models; the scopes the alias routes need; and the prediction routes'
own rate limit."""

import http.client
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
import unittest

from fitdtest import Daemon, DaemonTest, read_data, wait_job, write_tokens

ROWS = {"rows": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
                  "petal_width": 0.2},
                 {"sepal_length": 6.3, "sepal_width": 2.8, "petal_length": 4.9,
                  "petal_width": 1.6}]}


def train(d, ds, family, trials=1):
    """A finished job of one model family on dataset ds; returns the job."""
    optimizer = "lbfgs" if family == "logistic" else "adam"
    status, _, job = d.request("POST", "/v1/jobs", body={
        "dataset": ds, "target": "species",
        "space": {"models": [family], "optimizer": [optimizer]},
        "search": {"max_trials": trials, "seed": 3}})
    assert status == 201, job
    job = wait_job(d, job["id"])
    assert job["state"] == "succeeded", job
    return job


def predict(conn, path, token=None):
    """One prediction on a kept-alive connection: (status, headers, body)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request("POST", path, body=json.dumps(ROWS), headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw


class Aliases(DaemonTest):
    # Unlimited, so the load test measures switching, not the limits.
    daemon_args = ("--rate-limit-ip", "0", "--rate-limit-predict", "0")

    def setUp(self):
        super().setUp()
        status, _, ds = self.d.upload("iris", read_data("iris.csv"))
        self.assertEqual(status, 201, ds)
        self.ds = ds["id"]

    def put(self, name, model):
        return self.d.request("PUT", "/v1/aliases/" + name, body={"model": model})

    def direct(self, model):
        status, _, out = self.d.request("POST", "/v1/models/%s/predict" % model, body=ROWS)
        self.assertEqual(status, 200, out)
        return out

    def test_create_switch_read_list_delete(self):
        a = train(self.d, self.ds, "logistic")["best"]["model_id"]
        b = train(self.d, self.ds, "mlp")["best"]["model_id"]
        status, _, made = self.put("churn-prod", a)
        self.assertEqual(status, 201, made)
        self.assertEqual((made["name"], made["model"], made["previous"]), ("churn-prod", a, None))
        self.assertEqual(made["created_at"], made["updated_at"])
        status, _, switched = self.put("churn-prod", b)
        self.assertEqual(status, 200, switched)
        self.assertEqual((switched["model"], switched["previous"]), (b, a))
        self.assertEqual(switched["created_at"], made["created_at"])
        status, _, got = self.d.request("GET", "/v1/aliases/churn-prod")
        self.assertEqual(status, 200, got)
        self.assertEqual(set(got), {"name", "model", "created_at", "updated_at"})
        self.assertEqual(got["model"], b)
        # Pages in name order, with a cursor.
        for name in ("b.2", "a-1", "c_3"):
            self.assertEqual(self.put(name, a)[0], 201)
        status, _, page = self.d.request("GET", "/v1/aliases?limit=2")
        self.assertEqual([x["name"] for x in page["items"]], ["a-1", "b.2"])
        self.assertEqual(page["next_after"], "b.2")
        status, _, page = self.d.request("GET", "/v1/aliases?limit=2&after=b.2")
        self.assertEqual([x["name"] for x in page["items"]], ["c_3", "churn-prod"])
        self.assertIsNone(page["next_after"])
        # Predictions through the alias are the model's own, naming it.
        status, headers, out = self.d.request("POST", "/v1/aliases/churn-prod/predict", body=ROWS)
        self.assertEqual(status, 200, out)
        self.assertEqual(headers["fitd-model"], b)
        self.assertEqual((out["alias"], out["model"]), ("churn-prod", b))
        want = self.direct(b)
        self.assertEqual({k: out[k] for k in want}, want)
        csv = b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n"
        status, _, out = self.d.request("POST", "/v1/aliases/churn-prod/predict", body=csv,
                                        headers={"Content-Type": "text/csv"})
        self.assertEqual((status, len(out["predictions"])), (200, 1))
        # Delete: gone, and the model with its job stays.
        status, _, gone = self.d.request("DELETE", "/v1/aliases/churn-prod")
        self.assertEqual(status, 200, gone)
        self.assertEqual(gone, {"name": "churn-prod", "model": b, "deleted": True})
        self.assertError(self.d.request("GET", "/v1/aliases/churn-prod"), 404, "alias_not_found")
        self.assertError(self.d.request("DELETE", "/v1/aliases/churn-prod"), 404,
                         "alias_not_found")
        self.assertError(self.d.request("POST", "/v1/aliases/churn-prod/predict", body=ROWS),
                         404, "alias_not_found")
        self.assertEqual(self.d.request("GET", "/v1/models/" + b)[0], 200)

    def test_bad_names_and_bodies(self):
        a = train(self.d, self.ds, "logistic")["best"]["model_id"]
        for name in ("Prod", "-x", "a%20b", "x" * 65, "caf%C3%A9", "a!"):
            with self.subTest(name=name):
                self.assertError(self.put(name, a), 400, "invalid_name")
                self.assertError(self.d.request("GET", "/v1/aliases/" + name), 400,
                                 "invalid_name")
        self.assertEqual(self.put("x" * 64, a)[0], 201)
        self.assertError(self.put("p", "mdl_00000000000000000000"), 404, "model_not_found")
        self.assertError(self.put("p", "nope"), 404, "model_not_found")
        self.assertError(self.d.request("PUT", "/v1/aliases/p", body={}), 422, "missing_field")
        self.assertError(self.d.request("PUT", "/v1/aliases/p", body={"model": 1}), 400,
                         "wrong_type")
        self.assertError(self.d.request("PUT", "/v1/aliases/p", body={"model": a, "x": 1}), 400,
                         "unknown_field")
        self.assertError(self.d.request("PUT", "/v1/aliases/p", body="[]",
                                        headers={"Content-Type": "application/json"}), 400,
                         "wrong_type")
        self.assertError(self.d.request("GET", "/v1/aliases/p"), 404, "alias_not_found")

    def test_alias_keeps_its_model_past_the_job(self):
        job = train(self.d, self.ds, "logistic", trials=4)
        model = job["best"]["model_id"]
        self.assertEqual(self.put("keep", model)[0], 201)
        self.assertError(self.d.request("DELETE", "/v1/models/" + model), 409, "model_in_use")
        status, _, gone = self.d.request("DELETE", "/v1/jobs/" + job["id"])
        self.assertEqual(status, 200, gone)
        self.assertEqual(gone["models_kept"], [model])
        # Readable and serving by id and by alias, without its job.
        self.assertError(self.d.request("GET", "/v1/jobs/" + job["id"]), 404, "job_not_found")
        self.assertEqual(self.d.request("GET", "/v1/models/" + model)[0], 200)
        self.assertEqual(self.d.request("POST", "/v1/aliases/keep/predict", body=ROWS)[0], 200)
        msg = self.d.request("DELETE", "/v1/models/" + model)[2]["error"]["message"]
        self.assertIn("'keep'", msg)
        # The alias lets go: the model goes with it, row and file.
        other = train(self.d, self.ds, "logistic")["best"]["model_id"]
        self.assertEqual(self.put("keep", other)[0], 200)
        self.assertError(self.d.request("GET", "/v1/models/" + model), 404, "model_not_found")
        self.assertFalse(os.path.exists(os.path.join(self.d.state_dir, "models", model)))

    def test_switching_under_load(self):
        a = train(self.d, self.ds, "logistic")["best"]["model_id"]
        b = train(self.d, self.ds, "mlp")["best"]["model_id"]
        want = {a: self.direct(a), b: self.direct(b)}
        self.assertNotEqual(want[a]["probabilities"], want[b]["probabilities"])
        self.assertEqual(self.put("live", a)[0], 201)
        stop = threading.Event()
        results, problems = [], []

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=30)
            seen = []
            try:
                while not stop.is_set():
                    status, headers, raw = predict(conn, "/v1/aliases/live/predict")
                    if status != 200:
                        problems.append("HTTP %d: %r" % (status, raw[:200]))
                        continue
                    out = json.loads(raw)
                    model = out.pop("model")
                    out.pop("alias")
                    if model not in want or headers.get("fitd-model") != model:
                        problems.append("answered by %s (header %s)" % (
                            model, headers.get("fitd-model")))
                    elif out != want[model]:
                        problems.append("an answer of %s that is not its own" % model)
                    seen.append(model)
            except Exception as e:  # a dropped connection is a failed request
                problems.append(repr(e))
            finally:
                conn.close()
                results.append(seen)

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        switches = 0
        started = time.time()
        try:
            for i in range(300):
                status, _, out = self.put("live", b if i % 2 == 0 else a)
                self.assertEqual(status, 200, out)
                switches += 1
                time.sleep(0.005)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        seconds = time.time() - started
        answers = sum(len(r) for r in results)
        by_model = {m: sum(r.count(m) for r in results) for m in (a, b)}
        print("%d predictions through the alias in %.1f s (%.0f/s) while it switched %d times; "
              "%d by the first model, %d by the second" % (
                  answers, seconds, answers / seconds, switches, by_model[a], by_model[b]))
        self.assertEqual(problems, [])
        self.assertGreater(answers, 1000)
        self.assertGreater(by_model[a], 0)
        self.assertGreater(by_model[b], 0)


class Scopes(unittest.TestCase):
    """The alias routes need what the routes they resemble need."""

    def test_scopes(self):
        tmp = tempfile.mkdtemp(prefix="fitd-aliases-")
        tokens = {n: (secrets.token_urlsafe(24), s) for n, s in
                  (("full", "read,write"), ("reader", "read"), ("writer", "write"))}
        d = Daemon(args=("--token-file", write_tokens(os.path.join(tmp, "t"), tokens)),
                   token=tokens["full"][0]).start()
        try:
            status, _, ds = d.upload("iris", read_data("iris.csv"))
            model = train(d, ds["id"], "logistic")["best"]["model_id"]

            def call(who, method, path, body=None):
                return d.request(method, path, body=body,
                                 headers={"Authorization": "Bearer " + tokens[who][0]})

            for who, method, path, body, allowed in [
                    ("writer", "PUT", "/v1/aliases/p", {"model": model}, True),
                    ("reader", "PUT", "/v1/aliases/p", {"model": model}, False),
                    ("reader", "GET", "/v1/aliases/p", None, True),
                    ("reader", "GET", "/v1/aliases", None, True),
                    ("writer", "GET", "/v1/aliases/p", None, False),
                    ("writer", "GET", "/v1/aliases", None, False),
                    ("reader", "POST", "/v1/aliases/p/predict", ROWS, True),
                    ("writer", "POST", "/v1/aliases/p/predict", ROWS, False),
                    ("reader", "DELETE", "/v1/aliases/p", None, False),
                    ("reader", "DELETE", "/v1/models/" + model, None, False),
                    ("writer", "DELETE", "/v1/aliases/p", None, True)]:
                with self.subTest(who=who, method=method, path=path):
                    status, _, out = call(who, method, path, body)
                    if allowed:
                        self.assertIn(status, (200, 201), out)
                    else:
                        self.assertEqual((status, out["error"]["code"]),
                                         (403, "insufficient_scope"))
            self.assertEqual(call("full", "GET", "/v1/aliases/p")[0], 404)
        finally:
            d.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)


class PredictLimit(unittest.TestCase):
    """Predictions have buckets of their own: a serving rate far above the
    general limit gets no 429 while the other routes are still limited, and
    the predict limit, when reached, does not hold the others back."""

    def start(self, *args):
        tmp = tempfile.mkdtemp(prefix="fitd-predict-limit-")
        self.addCleanup(shutil.rmtree, tmp, True)
        self.token = secrets.token_urlsafe(24)
        path = write_tokens(os.path.join(tmp, "t"), {"svc": (self.token, "read,write")})
        d = Daemon(args=("--token-file", path) + args, token=self.token).start()
        self.addCleanup(d.cleanup)
        status, _, ds = d.upload("iris", read_data("iris.csv"))
        self.assertEqual(status, 201, ds)
        model = train(d, ds["id"], "logistic")["best"]["model_id"]
        self.assertEqual(d.request("PUT", "/v1/aliases/svc", body={"model": model})[0], 201)
        time.sleep(1.5)  # the general buckets fill up again after the training's requests
        return d, model

    def test_predictions_above_the_general_limit(self):
        # General limits of 20 a second (burst 20) per address and per token; predict defaults.
        d, model = self.start("--rate-limit-ip", "20", "--rate-burst-ip", "20",
                              "--rate-limit-token", "20", "--rate-burst-token", "20")
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        statuses = {}
        started = time.time()
        for i in range(600):
            path = "/v1/models/%s/predict" % model if i % 2 else "/v1/aliases/svc/predict"
            status = predict(conn, path, self.token)[0]
            statuses[status] = statuses.get(status, 0) + 1
        rate = 600 / (time.time() - started)
        conn.close()
        print("600 predictions at %.0f/s: %s" % (rate, statuses))
        self.assertGreater(rate, 40)  # twice the general limit at the least
        self.assertEqual(statuses, {200: 600})
        # The other routes are still held to 20 a second.
        got = [d.request("GET", "/v1/aliases/svc")[0] for _ in range(60)]
        self.assertIn(429, got)

    def test_predict_limit_applies_to_predictions_only(self):
        d, model = self.start("--rate-limit-predict", "5", "--rate-burst-predict", "5")
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        got = [predict(conn, "/v1/aliases/svc/predict", self.token)[0] for _ in range(30)]
        conn.close()
        self.assertIn(429, got)
        self.assertEqual(got[:5], [200] * 5)
        status, headers, body = d.request("POST", "/v1/models/%s/predict" % model, body=ROWS)
        self.assertEqual((status, body["error"]["code"]), (429, "rate_limited"))
        self.assertIn("retry-after", headers)
        self.assertEqual([d.request("GET", "/v1/aliases/svc")[0] for _ in range(30)], [200] * 30)


if __name__ == "__main__":
    unittest.main(verbosity=2)
