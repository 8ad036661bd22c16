#!/usr/bin/python3
"""Writes the bad-input corpus: one JSON file per case under cases/.

Each case is {"name", "method", "path", "headers"?, "body"? (a string),
"json"? (an object sent as JSON), "body_hex"? (bytes), "body_parts"? (a
list of [text, times] joined: large bodies stay small here), "raw"? (the
whole request, for what an HTTP client refuses to send), "expect": {"status", "code",
"message"? (text the error's message holds)}}. In paths and
bodies "{DS}" stands for an uploaded iris dataset, "{JOB}" for a finished
job on it, "{MODEL}" for its model, "{BUSY}" for a job that stays queued or
running and "{ALIAS}" for an alias of {MODEL} (tests/integration/test_corpus.py).

The corpus daemon runs with a token file. A case is sent with a token of
every scope unless it has its own Authorization header or "auth": "none";
in headers and raw requests "{TOKEN}" stands for that token, and
"{TOKEN_READ}", "{TOKEN_WRITE}", "{TOKEN_ADMIN}" for tokens of one scope.

Run it from anywhere after adding cases; the files are committed.
"""
import gzip
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = []


def case(name, method, path, expect, code, message=None, **kw):
    want = {"status": expect, "code": code}
    if message is not None:
        want["message"] = message
    CASES.append(dict(name=name, method=method, path=path, expect=want, **kw))


def raw_with_token(raw):
    """A raw request with the full token's header after its request line."""
    line, rest = raw.split("\r\n", 1)
    return line + "\r\nAuthorization: Bearer {TOKEN}\r\n" + rest


def job(name, spec, expect, code):
    body = {"dataset": "{DS}", "target": "species"}
    body.update(spec)
    case("job-" + name, "POST", "/v1/jobs", expect, code, json=body)


def job_raw(name, body, expect, code):
    case("job-" + name, "POST", "/v1/jobs", expect, code, body=body,
         headers={"Content-Type": "application/json"})


# ---- job specs: malformed JSON ----
for i, body in enumerate(["{", "[", "null", "1", '"x"', '{"dataset":}', '{} x', "{'a':1}",
                          '{"dataset":"{DS}","target":"species",}', '{"a":1 "b":2}',
                          '{"dataset":"{DS}","dataset":"{DS}","target":"species"}',
                          '{"dataset":"{DS}","target":"spe\\u0000cies"}',
                          '{"dataset":"{DS}","target":"species","search":{"max_trials":1e400}}',
                          '{"dataset":"{DS}","target":"species","search":{"max_trials":'
                          '99999999999999999999999}}',
                          "[" * 5000 + "]" * 5000,
                          '{"a":' * 3000 + "1" + "}" * 3000,
                          '{"dataset":"{DS}","target":"\\ud800"}', "\ufeff{}"]):
    job_raw("malformed-%02d" % i, body, 400, "malformed_json")
job_raw("empty-body", "", 400, "empty_body")
case("job-invalid-utf8", "POST", "/v1/jobs", 400, "malformed_json",
     body_hex=("{\"dataset\":\"{DS}\",\"target\":\"sp\xff\xfeecies\"}").encode("latin-1").hex(),
     headers={"Content-Type": "application/json"})
case("job-body-too-large", "POST", "/v1/jobs", 413, "payload_too_large",
     body_parts=[['{"dataset":"{DS}","target":"species","exclude_columns":["', 1],
                 ["x", 1100 * 1024], ['"]}', 1]],
     headers={"Content-Type": "application/json"})

# ---- job specs: required fields, unknown keys ----
case("job-missing-dataset", "POST", "/v1/jobs", 422, "missing_field", json={"target": "species"})
case("job-missing-target", "POST", "/v1/jobs", 422, "missing_field", json={"dataset": "{DS}"})
case("job-empty-object", "POST", "/v1/jobs", 422, "missing_field", json={})
for where, spec in [("top", {"foo": 1}), ("search", {"search": {"foo": 1}}),
                    ("space", {"space": {"foo": 1}}),
                    ("validation", {"validation": {"method": "cv", "foo": 1}}),
                    ("early-stopping", {"early_stopping": {"foo": 1}}),
                    ("space-mlp", {"space": {"mlp": {"foo": 1}}}),
                    ("space-svm", {"space": {"svm": {"foo": 1}}}),
                    ("range", {"space": {"learning_rate": {"min": 0.1, "max": 1, "step": 2}}}),
                    ("case", {"Dataset": "x"}), ("empty-key", {"": 1})]:
    job("unknown-" + where, spec, 400, "unknown_field")

# ---- job specs: wrong types ----
WRONG = {
    "dataset": [1, None, [], {}], "target": [1, [], True], "task": [5, ["auto"]],
    "exclude_columns": ["x", [1], {}], "metric": [1, ["accuracy"]],
    "validation": ["cv", 5, []], "early_stopping": ["yes", 1.5, []],
    "space": [[], "auto", 1], "search": [1, "tpe", []],
}
for field, values in WRONG.items():
    for i, v in enumerate(values):
        job("type-%s-%d" % (field.replace("_", "-"), i), {field: v}, 400, "wrong_type")
# An integer field takes a whole number written as a real (30.0), not a
# fraction, nor a real past 2^53 (1e16): a double no longer tells such
# integers apart.
SEARCH_WRONG = {
    "max_trials": ["5", 1.5, True, 30.5, 1e16], "max_seconds": ["5", True, [1]],
    "parallel_trials": [1.5, []], "threads_per_trial": [2.5, True],
    "seed": ["1", 1.5, 1e300], "algorithm": [3, ["tpe"]], "patience": ["x", 2.5],
    "goal": ["x", [1]], "max_attempts": [2.5, "3"], "ensemble": [1, None, [True]],
    "refit": ["no", 0, None],
}
for field, values in SEARCH_WRONG.items():
    for i, v in enumerate(values):
        job("type-search-%s-%d" % (field.replace("_", "-"), i), {"search": {field: v}}, 400,
            "wrong_type")
SPACE_WRONG = {
    "models": [True, [1]], "optimizer": [1, [True]], "learning_rate": ["0.1", [None]],
    "batch_size": ["32", [1.5]], "epochs": ["10", 1.5, 1e20], "regularization": [1, [2]],
    "penalty": ["x"], "loss": [0, [0]], "mlp": [1, "x"], "svm": [1],
}
for field, values in SPACE_WRONG.items():
    for i, v in enumerate(values):
        job("type-space-%s-%d" % (field.replace("_", "-"), i), {"space": {field: v}}, 400,
            "wrong_type")
job("type-validation-folds", {"validation": {"method": "cv", "folds": "5"}}, 400, "wrong_type")
job("type-validation-repeats", {"validation": {"method": "cv", "repeats": 1.5}}, 400,
    "wrong_type")
job("type-validation-fraction", {"validation": {"method": "holdout", "fraction": "0.2"}}, 400,
    "wrong_type")
job("type-validation-method", {"validation": {"method": 1}}, 400, "wrong_type")
job("type-patience", {"early_stopping": {"patience": "10"}}, 400, "wrong_type")

# ---- job specs: out of range ----
# Whole reals are integers, so 10001.0 trials is out of range; seconds may
# have a fraction, but not below 1 s.
RANGE = [("search", "max_trials", [0, 10001, -1, 10001.0]),
         ("search", "max_seconds", [0, 604801, -5, 0.5, 604800.5]),
         ("search", "parallel_trials", [0, 257]), ("search", "threads_per_trial", [0, 257]),
         ("search", "max_attempts", [0, 11]), ("search", "patience", [0, 10001])]
for obj, field, values in RANGE:
    for v in values:
        job("range-%s-%s-%s" % (obj, field.replace("_", "-"), v), {obj: {field: v}}, 422,
            "out_of_range")
for name, v in [("folds-1", {"method": "cv", "folds": 1}), ("folds-21", {"method": "cv", "folds": 21}),
                ("folds-200", {"method": "cv", "folds": 200}),
                ("repeats-0", {"method": "cv", "repeats": 0}),
                ("repeats-11", {"method": "cv", "repeats": 11}),
                ("folds-times-repeats", {"method": "cv", "folds": 10, "repeats": 3}),
                ("fraction-small", {"method": "holdout", "fraction": 0.01}),
                ("fraction-large", {"method": "holdout", "fraction": 0.9}),
                ("fraction-negative", {"method": "holdout", "fraction": -0.2})]:
    job("range-validation-" + name, {"validation": v}, 422, "out_of_range")
job("range-patience-0", {"early_stopping": {"patience": 0}}, 422, "out_of_range")
job("range-patience-big", {"early_stopping": {"patience": 10001}}, 422, "out_of_range")
for name, sp in [("lr-zero", {"learning_rate": [0]}), ("lr-negative", {"learning_rate": [-0.1]}),
                 ("lr-range-inverted", {"learning_rate": {"min": 1, "max": 0.1}}),
                 ("lr-log-from-zero", {"learning_rate": {"min": 0, "max": 1, "log": True}}),
                 ("batch-zero", {"batch_size": [0]}), ("epochs-zero", {"epochs": 0}),
                 ("epochs-huge", {"epochs": 10000000}), ("penalty-negative", {"penalty": [-1]}),
                 ("hidden-layers-4", {"mlp": {"hidden_layers": [4]}}),
                 ("hidden-layers-0", {"mlp": {"hidden_layers": [0]}}),
                 ("units-zero", {"mlp": {"units": [0]}}),
                 ("dropout-one", {"mlp": {"dropout": [1.0]}}),
                 ("svm-c-zero", {"svm": {"C": [0]}}),
                 ("l1-ratio-two", {"l1_ratio": [2]})]:
    job("range-space-" + name, {"space": sp}, 422, "out_of_range")

# ---- job specs: unknown values ----
for name, spec in [("task", {"task": "clustering"}), ("metric", {"metric": "precision"}),
                   ("algorithm", {"search": {"algorithm": "bayes"}}),
                   ("method", {"validation": {"method": "bootstrap"}}),
                   ("model", {"space": {"models": ["tree"]}}),
                   ("optimizer", {"space": {"optimizer": ["rmsprop"]}}),
                   ("regularization", {"space": {"regularization": ["l3"]}}),
                   ("loss", {"space": {"loss": ["cross"]}}),
                   ("activation", {"space": {"mlp": {"activation": ["gelu"]}}}),
                   ("parallel-word", {"search": {"parallel_trials": "max"}}),
                   ("threads-word", {"search": {"threads_per_trial": "all"}}),
                   ("ensemble-word", {"search": {"ensemble": "always"}}),
                   ("model-case", {"space": {"models": ["Logistic"]}})]:
    job("value-" + name, spec, 422, "unknown_value")
job("value-duplicate-model", {"space": {"models": ["logistic", "logistic"]}}, 422,
    "duplicate_value")

# ---- job specs: references and combinations ----
job("dataset-unknown", {"dataset": "ds_00000000000000000000"}, 404, "dataset_not_found")
job("dataset-malformed", {"dataset": "../../etc/passwd"}, 404, "dataset_not_found")
job("target-unknown", {"target": "nope"}, 422, "unknown_column")
job("target-empty", {"target": ""}, 422, "out_of_range")
job("exclude-unknown", {"exclude_columns": ["nope"]}, 422, "unknown_column")
job("exclude-target", {"exclude_columns": ["species"]}, 422, "invalid_combination")
job("exclude-everything", {"exclude_columns": ["sepal_length", "sepal_width", "petal_length",
                                               "petal_width"]}, 422, "invalid_combination")
job("metric-rmse-classification", {"metric": "rmse"}, 422, "invalid_combination")
job("task-regression-categorical", {"task": "regression"}, 422, "invalid_combination")
job("loss-hinge-logistic", {"space": {"models": ["logistic"], "loss": ["hinge"]}}, 422,
    "invalid_combination")
job("loss-squared-classification", {"space": {"loss": ["squared"]}}, 422, "invalid_combination")
job("model-linear-classification", {"space": {"models": ["linear"]}}, 422, "invalid_combination")
job("dropout-logistic", {"space": {"models": ["logistic"], "regularization": ["dropout"]}}, 422,
    "invalid_combination")
job("newton-mlp", {"space": {"models": ["mlp"], "optimizer": ["newton"]}}, 422,
    "invalid_combination")
job("grid-too-large", {"search": {"algorithm": "grid", "max_trials": 2},
                       "space": {"models": ["logistic"], "optimizer": ["lbfgs"],
                                 "regularization": ["l2"], "penalty": [0.1, 1, 10]}}, 422,
    "grid_too_large")
job("budgets-both-null", {"search": {"max_trials": None, "max_seconds": None}}, 422,
    "invalid_combination")
job("refit-false-ensemble-true", {"search": {"refit": False, "ensemble": True}}, 422,
    "invalid_combination")
job("fraction-with-cv", {"validation": {"method": "cv", "fraction": 0.2}}, 422,
    "invalid_combination")
job("folds-with-holdout", {"validation": {"method": "holdout", "folds": 5}}, 422,
    "invalid_combination")
job("method-missing", {"validation": {"folds": 5}}, 422, "missing_field")
case("job-idempotency-key-space", "POST", "/v1/jobs", 400, "invalid_idempotency_key",
     json={"dataset": "{DS}", "target": "species"}, headers={"Idempotency-Key": "a b"})
case("job-idempotency-key-long", "POST", "/v1/jobs", 400, "invalid_idempotency_key",
     json={"dataset": "{DS}", "target": "species"}, headers={"Idempotency-Key": "k" * 300})
case("job-idempotency-key-nonascii", "POST", "/v1/jobs", 400, "invalid_idempotency_key",
     json={"dataset": "{DS}", "target": "species"}, headers={"Idempotency-Key": "caf\u00e9"})

# ---- datasets ----
BAD_CSV = [("empty", "", 400, "empty_body"), ("header-only", "a,b\n", 422, "no_rows"),
           ("ragged-short", "a,b\n1,2\n3\n", 400, "ragged_row"),
           ("ragged-long", "a,b\n1,2,3\n", 400, "ragged_row"),
           ("unterminated-quote", 'a,b\n1,"open\n', 400, "unterminated_quote"),
           ("quote-in-field", 'a,b\n1,x"y\n', 400, "bad_quote"),
           ("text-after-quote", 'a,b\n1,"x"y\n', 400, "bad_quote"),
           ("duplicate-column", "a,a\n1,2\n", 422, "duplicate_column"),
           ("empty-column-name", "a,,c\n1,2,3\n", 422, "empty_column_name"),
           ("only-newlines", "\n\n\n", 400, "empty_body"),
           ("blank-header", "a,b\n", 422, "no_rows")]
for name, csv, status, code in BAD_CSV:
    case("dataset-" + name, "POST", "/v1/datasets?name=bad", status, code, body=csv,
         headers={"Content-Type": "text/csv"})
for name, raw, status, code in [("nul-byte", b"a,b\n1,\x002\n", 400, "nul_byte"),
                                ("invalid-utf8", b"a,b\n1,\xff\xfe\n", 400, "invalid_utf8"),
                                ("overlong-utf8", b"a,b\n1,\xc0\xaf\n", 400, "invalid_utf8"),
                                ("surrogate-utf8", b"a,b\n1,\xed\xa0\x80\n", 400, "invalid_utf8"),
                                ("truncated-utf8", b"a,b\n1,\xe2\x82\n", 400, "invalid_utf8"),
                                ("nul-in-header", b"a\x00,b\n1,2\n", 400, "nul_byte")]:
    case("dataset-" + name, "POST", "/v1/datasets?name=bad", status, code, body_hex=raw.hex(),
         headers={"Content-Type": "text/csv"})
case("dataset-too-many-columns", "POST", "/v1/datasets?name=wide", 422, "too_many_columns",
     body_parts=[["c,", 9999], ["c\n", 1], ["1,", 9999], ["1\n", 1]],
     headers={"Content-Type": "text/csv"})
case("dataset-field-too-long", "POST", "/v1/datasets?name=long", 422, "field_too_long",
     body_parts=[["a,b\n1,", 1], ["x", 70000], ["\n", 1]], headers={"Content-Type": "text/csv"})
case("dataset-header-field-too-long", "POST", "/v1/datasets?name=long", 422, "field_too_long",
     body_parts=[["a", 70000], ["\n1\n", 1]], headers={"Content-Type": "text/csv"})
case("dataset-multipart", "POST", "/v1/datasets?name=m", 415, "unsupported_media_type",
     body="--x\r\n\r\na\n1\n--x--\r\n", headers={"Content-Type": "multipart/form-data; boundary=x"})
for name, query in [("missing", ""), ("empty", "?name="), ("long", "?name=" + "n" * 300),
                    ("control", "?name=a%01b"), ("newline", "?name=a%0Ab"),
                    ("invalid-utf8", "?name=%FF%FE"), ("nul", "?name=a%00b")]:
    case("dataset-name-" + name, "POST", "/v1/datasets" + query, 400,
         "invalid_parameter" if name == "nul" else "invalid_name",
         body="a,b\n1,2\n", headers={"Content-Type": "text/csv"})
# ---- datasets: delimiters and encodings ----
TSV_HEADERS = {"Content-Type": "text/tab-separated-values"}
for name, value in [("word", "colon"), ("two", ",;"), ("empty", ""), ("space", "%20"),
                    ("case", "Tab"), ("escape", "%5Ct"), ("nul", "%01")]:
    case("dataset-delimiter-" + name, "POST", "/v1/datasets?name=x&delimiter=" + value, 400,
         "invalid_parameter", body="a,b\n1,2\n", headers={"Content-Type": "text/csv"})
for name, value in [("semicolon", "%3B"), ("comma", "comma"), ("pipe", "pipe")]:
    case("dataset-delimiter-conflict-" + name, "POST", "/v1/datasets?name=x&delimiter=" + value,
         400, "conflicting_delimiter", body="a\tb\n1\t2\n", headers=TSV_HEADERS)
for name, csv, query in [("tsv-as-csv", "a\tb\ty\n1\t2\t3\n", ""),
                         ("semicolon-as-csv", "a;b;c\n1;2;3\n", ""),
                         ("csv-as-tsv", "a,b\n1,2\n", "&delimiter=tab"),
                         ("csv-as-pipe", "a,b,c\n1,2,3\n", "&delimiter=%7C")]:
    case("dataset-wrong-delimiter-" + name, "POST", "/v1/datasets?name=x" + query, 400,
         "wrong_delimiter", body=csv, headers={"Content-Type": "text/csv"})
case("dataset-ragged-first-row-semicolon", "POST", "/v1/datasets?name=x", 400, "ragged_row",
     body="name;price;notes, misc\napple;1,5;fresh, red\n", headers={"Content-Type": "text/csv"})
case("dataset-quoted-header-semicolon", "POST", "/v1/datasets?name=x", 400, "bad_quote",
     body='"a";"b"\n1;2\n', headers={"Content-Type": "text/csv"})
GZ_HEADERS = {"Content-Type": "text/csv", "Content-Encoding": "gzip"}
# gzip of "a,b\n1,2\n", cut, flipped, followed by junk, or not gzip at all.
GZ = gzip.compress(b"a,b\n1,2\n", mtime=0)
for name, raw in [("not-gzip", b"a,b\n1,2\n"), ("truncated", GZ[:15]),
                  ("bad-crc", GZ[:-8] + b"\x00" * 8), ("trailing-junk", GZ + b"junk"),
                  ("header-only", GZ[:10]), ("flipped", GZ[:12] + b"\xff" + GZ[13:])]:
    case("dataset-gzip-" + name, "POST", "/v1/datasets?name=x", 400, "bad_encoding",
         body_hex=raw.hex(), headers=GZ_HEADERS)
for name, enc in [("br", "br"), ("deflate", "deflate"), ("double", "gzip, gzip"),
                  ("compress", "compress"), ("zstd", "zstd")]:
    case("dataset-encoding-" + name, "POST", "/v1/datasets?name=x", 415, "unsupported_encoding",
         body="a,b\n1,2\n", headers={"Content-Type": "text/csv", "Content-Encoding": enc})
case("dataset-no-length", "POST", "/v1/datasets?name=x", 411, "length_required",
     raw=raw_with_token("POST /v1/datasets?name=x HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\n"
         "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\na,b\n\r\n0\r\n\r\n"))
case("dataset-duplicate-length", "POST", "/v1/datasets?name=x", 400, "bad_content_length",
     raw=raw_with_token("POST /v1/datasets?name=x HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\n"
         "Content-Length: 8\r\nContent-Length: 9\r\nConnection: close\r\n\r\na,b\n1,2\n"))
case("dataset-length-huge", "POST", "/v1/datasets?name=x", 413, "payload_too_large",
     raw=raw_with_token("POST /v1/datasets?name=x HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\n"
         "Content-Length: 99999999999999\r\nConnection: close\r\n\r\na,b\n1,2\n"))

# ---- paths and methods ----
for name, path in [("dash-unknown", "/dash/nope.js"), ("v2", "/v2/jobs"),
                   ("dataset-traversal", "/v1/datasets/..%2F..%2Fetc%2Fpasswd"), ("singular", "/v1/job"),
                   ("deep", "/v1/jobs/{JOB}/trials/1/x"), ("double-slash", "//v1/jobs"),
                   ("traversal", "/v1/../etc/passwd"), ("encoded-traversal", "/v1/%2e%2e/etc"),
                   ("trailing-slash", "/v1/jobs/"), ("datasets-slash", "/v1/datasets/"),
                   ("case", "/V1/jobs"), ("models-list", "/v1/models"),
                   ("metrics-typo", "/metricz"), ("healthz-sub", "/healthz/x"),
                   ("query-only", "/v1/?a=b"), ("long", "/v1/" + "a" * 2000)]:
    case("path-" + name, "GET", path, 404, "not_found")
for name, path in [("dataset-short", "/v1/datasets/ds_123"),
                   ("dataset-upper", "/v1/datasets/ds_ABCDEF0123456789ABCD"),
                   ("dataset-prefix", "/v1/datasets/job_00000000000000000000"),
                   ("dataset-nul", "/v1/datasets/ds_%00"),
                   ("job-short", "/v1/jobs/job_1"), ("job-long", "/v1/jobs/job_" + "0" * 21),
                   ("job-prefix", "/v1/jobs/ds_00000000000000000000"),
                   ("trials-bad-id", "/v1/jobs/x/trials"), ("events-bad-id", "/v1/jobs/x/events"),
                   ("model-bad-id", "/v1/models/mdl_x"), ("model-prefix", "/v1/models/{JOB}")]:
    case("id-" + name, "GET", path, 400, "invalid_id")
case("id-cancel-bad", "POST", "/v1/jobs/nope/cancel", 400, "invalid_id")
case("id-delete-bad", "DELETE", "/v1/datasets/nope", 400, "invalid_id")
case("id-predict-bad", "POST", "/v1/models/nope/predict", 400, "invalid_id",
     json={"rows": []})
for name, path, code in [("dataset", "/v1/datasets/ds_00000000000000000000", "dataset_not_found"),
                         ("job", "/v1/jobs/job_00000000000000000000", "job_not_found"),
                         ("trials", "/v1/jobs/job_00000000000000000000/trials", "job_not_found"),
                         ("events", "/v1/jobs/job_00000000000000000000/events", "job_not_found"),
                         ("model", "/v1/models/mdl_00000000000000000000", "model_not_found")]:
    case("missing-" + name, "GET", path, 404, code)
case("missing-cancel", "POST", "/v1/jobs/job_00000000000000000000/cancel", 404, "job_not_found")
case("missing-delete", "DELETE", "/v1/datasets/ds_00000000000000000000", 404, "dataset_not_found")
case("missing-predict", "POST", "/v1/models/mdl_00000000000000000000/predict", 404,
     "model_not_found", json={"rows": [{"x": 1}]})
for method, path in [("DELETE", "/v1/jobs"), ("PUT", "/v1/datasets"), ("PATCH", "/healthz"),
                     ("POST", "/healthz"), ("POST", "/readyz"), ("PATCH", "/v1/jobs/{JOB}"),
                     ("PUT", "/v1/jobs/{JOB}"), ("GET", "/v1/jobs/{JOB}/cancel"),
                     ("POST", "/v1/jobs/{JOB}/trials"), ("POST", "/v1/jobs/{JOB}/events"),
                     ("PATCH", "/v1/models/{MODEL}"), ("GET", "/v1/models/{MODEL}/predict"),
                     ("POST", "/v1/datasets/{DS}"), ("PUT", "/v1/models/{MODEL}")]:
    case("method-%s-%s" % (method.lower(), path.strip("/").replace("/", "-").replace("{", "")
                           .replace("}", "").lower()), method, path, 405, "method_not_allowed")
case("cancel-finished", "POST", "/v1/jobs/{JOB}/cancel", 409, "job_finished")
case("delete-used-dataset", "DELETE", "/v1/datasets/{DS}", 409, "dataset_in_use")

# ---- query strings ----
PRED = "/v1/models/{MODEL}/predict"
for route in ("/v1/datasets", "/v1/jobs", "/v1/jobs/{JOB}/trials"):
    slug = route.strip("/").replace("/", "-").replace("{", "").replace("}", "").lower()
    for name, q in [("limit-zero", "limit=0"), ("limit-negative", "limit=-1"),
                    ("limit-big", "limit=1001"), ("limit-word", "limit=abc"),
                    ("limit-float", "limit=1.5"), ("limit-exp", "limit=1e3"),
                    ("limit-empty", "limit="), ("limit-overflow", "limit=99999999999999999999999")]:
        case("query-%s-%s" % (slug, name), "GET", route + "?" + q, 400, "invalid_parameter")
for name, q in [("bad", "after=nope"), ("other-kind", "after=job_00000000000000000000")]:
    case("query-datasets-after-" + name, "GET", "/v1/datasets?" + q, 400, "invalid_cursor")
case("query-jobs-after-bad", "GET", "/v1/jobs?after=nope", 400, "invalid_cursor")
for name, q in [("unknown", "state=done"), ("empty", "state="), ("case", "state=RUNNING")]:
    case("query-jobs-state-" + name, "GET", "/v1/jobs?" + q, 400, "invalid_parameter")
for name, q in [("negative", "offset=-1"), ("word", "offset=x"), ("float", "offset=2.5")]:
    case("query-trials-offset-" + name, "GET", "/v1/jobs/{JOB}/trials?" + q, 400,
         "invalid_parameter")
# A parameter the route does not take, on every route: refused, named.
for method, path, arg, kw in [
        ("GET", "/healthz", "verbose=1", {}), ("GET", "/readyz", "x", {}),
        ("GET", "/metrics", "format=json", {}), ("GET", "/v1/openapi.json", "v=2", {}),
        ("POST", "/v1/datasets?name=x", "delim=tab", dict(body="a,b\n1,2\n",
                                                          headers={"Content-Type": "text/csv"})),
        ("GET", "/v1/datasets", "offset=1", {}), ("GET", "/v1/datasets/{DS}", "limit=1", {}),
        ("DELETE", "/v1/datasets/{DS}", "force=1", {}),
        ("POST", "/v1/jobs", "dataset={DS}", dict(json={"dataset": "{DS}", "target": "species"})),
        ("GET", "/v1/jobs", "State=running", {}), ("GET", "/v1/jobs/{JOB}", "fields=id", {}),
        ("POST", "/v1/jobs/{JOB}/cancel", "reason=x", {}),
        ("GET", "/v1/jobs/{JOB}/trials", "after=1", {}),
        ("GET", "/v1/jobs/{JOB}/events", "last_event_id=1", {}),
        ("GET", "/v1/models/{MODEL}", "format=onnx", {}),
        ("POST", PRED, "delimiter=tab", dict(body="sepal_length\n1\n",
                                             headers={"Content-Type": "text/csv"}))]:
    slug = path.split("?")[0].strip("/").replace("/", "-").replace("{", "").replace("}", "")
    case("query-unknown-%s-%s" % (method.lower(), slug.lower().replace(".", "-")), method,
         path + ("&" if "?" in path else "?") + arg, 400, "unknown_parameter", **kw)
case("query-unknown-empty-key", "GET", "/v1/jobs?=1", 400, "unknown_parameter")
case("query-unknown-misspelt-limit", "GET", "/v1/datasets?limt=5", 400, "unknown_parameter")
for name, v in [("word", "abc"), ("negative", "-1"), ("float", "1.5"), ("huge", "9" * 30)]:
    case("events-last-id-" + name, "GET", "/v1/jobs/{JOB}/events", 400, "invalid_event_id",
         message="Last-Event-ID", headers={"Last-Event-ID": v})

# ---- predictions ----
PRED = "/v1/models/{MODEL}/predict"
for name, body in [("malformed", "{"), ("array", "[]"), ("rows-object", '{"rows":{}}'),
                   ("rows-string", '{"rows":"x"}'), ("row-array", '{"rows":[[1,2]]}'),
                   ("row-number", '{"rows":[1]}'), ("no-rows", '{"data":[]}'),
                   ("duplicate-key", '{"rows":[],"rows":[]}')]:
    case("predict-json-" + name, "POST", PRED, 400,
         "malformed_json" if name in ("malformed", "duplicate-key") else
         "wrong_type",
         body=body, headers={"Content-Type": "application/json"})
case("predict-value-type", "POST", PRED, 400, "wrong_type",
     json={"rows": [{"sepal_length": [1]}]})
case("predict-empty-body", "POST", PRED, 400, "empty_body", body="",
     headers={"Content-Type": "application/json"})
case("predict-csv-ragged", "POST", PRED, 400, "ragged_row",
     body="sepal_length,sepal_width\n1\n", headers={"Content-Type": "text/csv"})
case("predict-csv-nul", "POST", PRED, 400, "nul_byte",
     body_hex=b"sepal_length\n1\x00\n".hex(), headers={"Content-Type": "text/csv"})
case("predict-csv-bad-quote", "POST", PRED, 400, "unterminated_quote",
     body='sepal_length\n"1\n', headers={"Content-Type": "text/csv"})
IRIS_ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
for name, rows in [("first", [{"nope": 1}]), ("second", [IRIS_ROW, dict(IRIS_ROW, id=7)]),
                   ("case", [{"Sepal_length": 5.1}]), ("empty-key", [dict(IRIS_ROW, **{"": 1})])]:
    case("predict-json-unknown-column-" + name, "POST", PRED, 400, "unknown_column",
         json={"rows": rows})
for name, rows in [("object", [IRIS_ROW, {}]), ("target-only", [{"species": "setosa"}])]:
    case("predict-json-empty-row-" + name, "POST", PRED, 400, "empty_row", json={"rows": rows})
case("predict-csv-unknown-column", "POST", PRED, 400, "unknown_column",
     body="id,sepal_length,sepal_width,petal_length,petal_width\n1,5.1,3.5,1.4,0.2\n",
     headers={"Content-Type": "text/csv"})
case("predict-csv-wrong-delimiter", "POST", PRED, 400, "wrong_delimiter",
     body="sepal_length;sepal_width;petal_length;petal_width\n5.1;3.5;1.4;0.2\n",
     headers={"Content-Type": "text/csv"})
case("predict-media-type", "POST", PRED, 415, "unsupported_media_type",
     body="x", headers={"Content-Type": "application/xml"})

# ---- access: no token, a bad credential, a token without the route's scope ----
CSV_HEADERS = {"Content-Type": "text/csv"}
for name, method, path, kw in [
        ("datasets-list", "GET", "/v1/datasets", {}),
        ("upload", "POST", "/v1/datasets?name=x", dict(body="a,b\n1,2\n", headers=CSV_HEADERS)),
        ("delete", "DELETE", "/v1/datasets/{DS}", {}),
        ("job-create", "POST", "/v1/jobs", dict(json={"dataset": "{DS}", "target": "species"})),
        ("events", "GET", "/v1/jobs/{JOB}/events", {}),
        ("predict", "POST", PRED, dict(json={"rows": [{"sepal_length": 1}]})),
        ("metrics", "GET", "/metrics", {}),
        ("token-in-query", "GET", "/v1/jobs?access_token={TOKEN}", {})]:
    case("auth-none-" + name, method, path, 401, "unauthorized", auth="none", **kw)
for name, value in [("basic", "Basic dXNlcjpwYXNz"), ("digest", 'Digest username="fitd"'),
                    ("token-scheme", "Token {TOKEN}"), ("no-space", "Bearer{TOKEN}"),
                    ("tab", "Bearer\t{TOKEN}"), ("empty", "Bearer"), ("blank", "Bearer    "),
                    ("unknown", "Bearer not-a-token"), ("longer", "Bearer {TOKEN}x"),
                    ("shorter", "Bearer x{TOKEN}"), ("space-inside", "Bearer {TOKEN} x"),
                    ("nul", "Bearer x\u0000{TOKEN}"), ("control", "Bearer \u0001{TOKEN}"),
                    ("very-long", "Bearer " + "A" * 8000), ("hash-not-token", "Bearer " + "0" * 64)]:
    case("auth-bad-" + name, "GET", "/v1/jobs", 401, "unauthorized",
         headers={"Authorization": value})
case("auth-bad-two-headers", "GET", "/v1/jobs", 401, "unauthorized",
     raw="GET /v1/jobs HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n"
         "Authorization: Bearer {TOKEN_READ}\r\nConnection: close\r\n\r\n")
for scope, method, path, kw in [
        ("READ", "POST", "/v1/datasets?name=x", dict(body="a,b\n1,2\n", headers=CSV_HEADERS)),
        ("READ", "DELETE", "/v1/datasets/{DS}", {}),
        ("READ", "POST", "/v1/jobs", dict(json={"dataset": "{DS}", "target": "species"})),
        ("READ", "POST", "/v1/jobs/{JOB}/cancel", {}),
        ("READ", "GET", "/metrics", {}),
        ("WRITE", "GET", "/v1/datasets", {}), ("WRITE", "GET", "/v1/datasets/{DS}", {}),
        ("WRITE", "GET", "/v1/jobs/{JOB}", {}), ("WRITE", "GET", "/v1/jobs/{JOB}/trials", {}),
        ("WRITE", "GET", "/v1/jobs/{JOB}/events", {}), ("WRITE", "GET", "/v1/models/{MODEL}", {}),
        ("WRITE", "POST", PRED, dict(json={"rows": [{"sepal_length": 1}]})),
        ("WRITE", "GET", "/metrics", {}),
        ("ADMIN", "GET", "/v1/jobs", {}), ("ADMIN", "POST", "/v1/jobs/{JOB}/cancel", {})]:
    slug = path.split("?")[0].strip("/").replace("/", "-").replace("{", "").replace("}", "")
    headers = dict(kw.pop("headers", {}), Authorization="Bearer {TOKEN_%s}" % scope)
    case("auth-scope-%s-%s-%s" % (scope.lower(), method.lower(), slug.lower()), method, path, 403,
         "insufficient_scope", headers=headers, **kw)
# The scheme is case-insensitive: these tokens are recognized, then lack the scope.
case("auth-scheme-lowercase", "POST", "/v1/jobs", 403, "insufficient_scope",
     json={"dataset": "{DS}", "target": "species"},
     headers={"Authorization": "bearer {TOKEN_READ}"})
case("auth-scheme-uppercase", "GET", "/v1/jobs", 403, "insufficient_scope",
     headers={"Authorization": "BEARER   {TOKEN_WRITE}"})

# ---- deleting jobs and models ----
case("delete-job-bad-id", "DELETE", "/v1/jobs/nope", 400, "invalid_id")
case("delete-job-prefix", "DELETE", "/v1/jobs/{MODEL}", 400, "invalid_id")
case("delete-job-missing", "DELETE", "/v1/jobs/job_00000000000000000000", 404, "job_not_found")
case("delete-job-live", "DELETE", "/v1/jobs/{BUSY}", 409, "job_not_finished")
case("delete-model-bad-id", "DELETE", "/v1/models/mdl_x", 400, "invalid_id")
case("delete-model-missing", "DELETE", "/v1/models/mdl_00000000000000000000", 404,
     "model_not_found")
case("delete-model-best", "DELETE", "/v1/models/{MODEL}", 409, "model_in_use")

# ---- aliases: names, bodies, lookups ----
ALIAS_NAMES = [("upper", "Prod"), ("dash-first", "-x"), ("dot-first", ".x"),
               ("underscore-first", "_x"), ("long", "x" * 65), ("space", "a%20b"),
               ("utf8", "caf%C3%A9"), ("bang", "a!"), ("id", "MDL_1")]
for name, alias in ALIAS_NAMES:
    case("alias-name-get-" + name, "GET", "/v1/aliases/" + alias, 400, "invalid_name")
for name, alias in ALIAS_NAMES[:4]:
    case("alias-name-put-" + name, "PUT", "/v1/aliases/" + alias, 400, "invalid_name",
         json={"model": "{MODEL}"})
    case("alias-name-delete-" + name, "DELETE", "/v1/aliases/" + alias, 400, "invalid_name")
    case("alias-name-predict-" + name, "POST", "/v1/aliases/%s/predict" % alias, 400,
         "invalid_name", json={"rows": [{"sepal_length": 1}]})
case("alias-missing-get", "GET", "/v1/aliases/nope", 404, "alias_not_found")
case("alias-missing-delete", "DELETE", "/v1/aliases/nope", 404, "alias_not_found")
case("alias-missing-predict", "POST", "/v1/aliases/nope/predict", 404, "alias_not_found",
     json={"rows": [{"sepal_length": 1}]})
ALIAS_PUT = "/v1/aliases/corpus-new"
for name, body, status, code in [
        ("malformed", "{", 400, "malformed_json"), ("array", "[]", 400, "wrong_type"),
        ("string", '"mdl_x"', 400, "malformed_json"),
        ("empty-object", "{}", 422, "missing_field"),
        ("model-number", '{"model":1}', 400, "wrong_type"),
        ("model-null", '{"model":null}', 400, "wrong_type"),
        ("model-array", '{"model":["{MODEL}"]}', 400, "wrong_type"),
        ("unknown-field", '{"model":"{MODEL}","note":"x"}', 400, "unknown_field"),
        ("duplicate-key", '{"model":"{MODEL}","model":"{MODEL}"}', 400, "malformed_json"),
        ("model-missing", '{"model":"mdl_00000000000000000000"}', 404, "model_not_found"),
        ("model-malformed", '{"model":"../../fitd.db"}', 404, "model_not_found"),
        ("model-job-id", '{"model":"{JOB}"}', 404, "model_not_found")]:
    case("alias-put-" + name, "PUT", ALIAS_PUT, status, code, body=body,
         headers={"Content-Type": "application/json"})
case("alias-put-empty-body", "PUT", ALIAS_PUT, 400, "empty_body", body="",
     headers={"Content-Type": "application/json"})
case("alias-put-too-large", "PUT", ALIAS_PUT, 413, "payload_too_large",
     body_parts=[['{"model":"', 1], ["x", 1100 * 1024], ['"}', 1]],
     headers={"Content-Type": "application/json"})
for name, q, code in [("limit-zero", "limit=0", "invalid_parameter"),
                      ("limit-word", "limit=x", "invalid_parameter"),
                      ("after-missing", "after=nope", "invalid_cursor"),
                      ("after-bad-name", "after=Bad", "invalid_cursor")]:
    case("query-aliases-" + name, "GET", "/v1/aliases?" + q, 400, code)
APRED = "/v1/aliases/{ALIAS}/predict"
for name, body, code in [("malformed", "{", "malformed_json"), ("rows-object", '{"rows":{}}',
                                                                  "wrong_type"),
                         ("row-number", '{"rows":[1]}', "wrong_type")]:
    case("alias-predict-json-" + name, "POST", APRED, 400, code, body=body,
         headers={"Content-Type": "application/json"})
case("alias-predict-empty-body", "POST", APRED, 400, "empty_body", body="",
     headers={"Content-Type": "application/json"})
case("alias-predict-csv-ragged", "POST", APRED, 400, "ragged_row",
     body="sepal_length,sepal_width\n1\n", headers={"Content-Type": "text/csv"})
case("alias-predict-media-type", "POST", APRED, 415, "unsupported_media_type",
     body="x", headers={"Content-Type": "application/xml"})
for method, path in [("POST", "/v1/aliases"), ("PUT", "/v1/aliases"), ("PATCH", "/v1/aliases/x"),
                     ("POST", "/v1/aliases/x"), ("GET", "/v1/aliases/x/predict"),
                     ("PUT", "/v1/jobs/{JOB}/cancel")]:
    case("method-%s-%s" % (method.lower(), path.strip("/").replace("/", "-").replace("{", "")
                           .replace("}", "").lower()), method, path, 405, "method_not_allowed")
for name, path in [("aliases-slash", "/v1/aliases/"), ("alias-deep", "/v1/aliases/x/predict/y"),
                   ("alias-singular", "/v1/alias/x")]:
    case("path-" + name, "GET", path, 404, "not_found")

# ---- access to the new routes ----
for name, method, path, kw in [
        ("aliases-list", "GET", "/v1/aliases", {}),
        ("alias-put", "PUT", "/v1/aliases/x", dict(json={"model": "{MODEL}"})),
        ("alias-predict", "POST", APRED, dict(json={"rows": [{"sepal_length": 1}]})),
        ("job-delete", "DELETE", "/v1/jobs/{JOB}", {}),
        ("model-delete", "DELETE", "/v1/models/{MODEL}", {})]:
    case("auth-none-" + name, method, path, 401, "unauthorized", auth="none", **kw)
for scope, method, path, kw in [
        ("READ", "DELETE", "/v1/jobs/{JOB}", {}), ("READ", "DELETE", "/v1/models/{MODEL}", {}),
        ("READ", "PUT", "/v1/aliases/{ALIAS}", dict(json={"model": "{MODEL}"})),
        ("READ", "DELETE", "/v1/aliases/{ALIAS}", {}),
        ("WRITE", "GET", "/v1/aliases", {}), ("WRITE", "GET", "/v1/aliases/{ALIAS}", {}),
        ("WRITE", "POST", APRED, dict(json={"rows": [{"sepal_length": 1}]})),
        ("ADMIN", "PUT", "/v1/aliases/{ALIAS}", dict(json={"model": "{MODEL}"})),
        ("ADMIN", "DELETE", "/v1/jobs/{JOB}", {})]:
    slug = path.strip("/").replace("/", "-").replace("{", "").replace("}", "")
    headers = dict(kw.pop("headers", {}), Authorization="Bearer {TOKEN_%s}" % scope)
    case("auth-scope-%s-%s-%s" % (scope.lower(), method.lower(), slug.lower()), method, path, 403,
         "insufficient_scope", headers=headers, **kw)

# ---- the linear SVM's dual coordinate descent: svm only, l2 only ----
job("dcd-logistic", {"space": {"models": ["logistic"], "optimizer": ["dcd"]}}, 422,
    "invalid_combination")
job("dcd-l1", {"space": {"models": ["svm"], "optimizer": ["dcd"], "regularization": ["l1"]}}, 422,
    "invalid_combination")

# ---- gradient-boosted trees: its settings and its explanations ----
# (appended last so that the numbers of the cases above stay as they were)
for name, sp in [("trees-zero", {"trees": [0]}), ("trees-huge", {"trees": 100001}),
                 ("max-leaves-one", {"max_leaves": [1]}), ("max-bins-256", {"max_bins": 256}),
                 ("max-depth-negative", {"max_depth": -1}),
                 ("max-depth-huge", {"max_depth": 1001}),
                 ("min-leaf-rows-zero", {"min_leaf_rows": 0}),
                 ("min-child-weight-zero", {"min_child_weight": [0]}),
                 ("min-split-gain-negative", {"min_split_gain": -1}),
                 ("subsample-zero", {"subsample": 0}), ("subsample-above-one", {"subsample": 1.5}),
                 ("colsample-zero", {"colsample": {"min": 0, "max": 1}}),
                 ("lr-zero", {"learning_rate": 0}),
                 ("leaves-range-inverted", {"max_leaves": {"min": 64, "max": 8}})]:
    job("range-space-gbdt-" + name, {"space": {"models": ["gbdt"], "gbdt": sp}}, 422,
        "out_of_range")
for name, sp in [("group", 1), ("trees", {"trees": "100"}), ("trees-float", {"trees": 1.5}),
                 ("subsample", {"subsample": [True]}), ("max-bins-list", {"max_bins": [None]})]:
    job("type-space-gbdt-" + name, {"space": {"gbdt": sp}}, 400, "wrong_type")
job("unknown-space-gbdt", {"space": {"gbdt": {"depth": 3}}}, 400, "unknown_field")
for name, sp in [("trees-without-gbdt", {"models": ["logistic"], "gbdt": {"trees": 100}}),
                 ("optimizer", {"models": ["gbdt"], "optimizer": ["adam"]}),
                 ("epochs", {"models": ["gbdt"], "epochs": 100}),
                 ("dropout", {"models": ["gbdt"], "regularization": ["dropout"]}),
                 ("hinge", {"models": ["gbdt"], "loss": ["hinge"]}),
                 ("batch-size", {"models": ["gbdt"], "batch_size": 32})]:
    job("gbdt-" + name, {"space": sp}, 422, "invalid_combination")
case("predict-explain-type", "POST", PRED, 400, "wrong_type",
     json={"rows": [{"sepal_length": 1}], "explain": "yes"})
case("predict-explain-query", "POST", PRED + "?explain=1", 400, "invalid_parameter",
     body="sepal_length\n1\n", headers={"Content-Type": "text/csv"})
case("predict-explain-too-many-rows", "POST", PRED, 422, "too_many_rows",
     body_parts=[['{"explain":true,"rows":[', 1], ['{"sepal_length":1},', 1000],
                 ['{"sepal_length":1}]}', 1]],
     headers={"Content-Type": "application/json"})
# The JSON shape is right but holds no row: as a CSV of a header alone.
case("predict-json-empty-rows", "POST", PRED, 422, "no_rows", json={"rows": []})

# The dashboard's routes (GET /, GET /dash/{file}) take no query parameter.
case("dash-query", "GET", "/?a=b", 400, "unknown_parameter")
case("dash-file-query", "GET", "/dash/app.js?v=2", 400, "unknown_parameter")

# Events resumed by ?after=: the query parameter is named as the client sent
# it, not as the header.
case("events-after-word", "GET", "/v1/jobs/{JOB}/events?after=abc", 400, "invalid_event_id",
     message="after must be")

# Prediction bodies come as they are: a gzipped one was read as it came and
# called malformed JSON (or CSV). Media types are matched in any case, so a
# CSV sent as TEXT/CSV reaches the model (and says what it lacks).
for route, name in [(PRED, "predict"), (APRED, "alias-predict")]:
    case(name + "-gzip", "POST", route, 415, "unsupported_encoding",
         body_hex=gzip.compress(b'{"rows":[{"sepal_length":1}]}', mtime=0).hex(),
         headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
for route, method, name in [("/v1/jobs", "POST", "job"), (APRED[:-len("/predict")], "PUT",
                                                            "alias-put")]:
    case(name + "-gzip", method, route, 415, "unsupported_encoding",
         body_hex=gzip.compress(b'{"model":"x"}', mtime=0).hex(),
         headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
case("predict-csv-type-upper-case", "POST", PRED, 422, "missing_column",
     body="sepal_length\n1\n", headers={"Content-Type": "TEXT/CSV; charset=utf-8"})
case("predict-type-prefix", "POST", PRED, 415, "unsupported_media_type",
     body="sepal_length\n1\n", headers={"Content-Type": "text/csvx"})

# A query parameter given twice is refused: only the first was read, so
# ?name=a&name=b made a dataset named a without a word.
for name, method, path, kw in [
        ("upload-name", "POST", "/v1/datasets?name=a&name=b",
         dict(body="x,y\n1,2\n", headers={"Content-Type": "text/csv"})),
        ("jobs-limit", "GET", "/v1/jobs?limit=1&limit=2", {}),
        ("events-after", "GET", "/v1/jobs/{JOB}/events?after=1&after=1", {}),
        ("predict-explain", "POST", PRED + "?explain=true&explain=false",
         dict(json={"rows": [{"sepal_length": 1}]}))]:
    case("query-twice-" + name, method, path, 400, "invalid_parameter", message="given twice",
         **kw)


def main():
    out = os.path.join(HERE, "cases")
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.unlink(os.path.join(out, f))
    names = set()
    for i, c in enumerate(CASES):
        assert c["name"] not in names, c["name"]
        names.add(c["name"])
        with open(os.path.join(out, "%03d-%s.json" % (i, c["name"])), "w") as f:
            json.dump(c, f, indent=1, ensure_ascii=True)
            f.write("\n")
    print("%d cases in %s" % (len(CASES), out))


if __name__ == "__main__":
    main()
