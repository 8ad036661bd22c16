"""The OpenAPI document (api/openapi.json) against the code: the routing
table, the auth contract, the bad-input corpus, a standard validator, and
real answers of a live daemon checked against the document's schemas."""

import glob
import json
import os
import re
import shutil
import subprocess
import unittest

from fitdtest import DaemonTest, npm_ci, read_data, wait_job

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DOC_PATH = os.path.join(ROOT, "api", "openapi.json")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
WRITES = {("POST", "/v1/datasets"), ("DELETE", "/v1/datasets/{id}"), ("POST", "/v1/jobs"),
          ("POST", "/v1/jobs/{id}/cancel"), ("DELETE", "/v1/jobs/{id}"),
          ("DELETE", "/v1/models/{id}"), ("PUT", "/v1/aliases/{name}"),
          ("DELETE", "/v1/aliases/{name}")}
OPEN = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/v1/openapi.json"), ("GET", "/"),
        ("GET", "/dash/{file}")}


def load_doc():
    with open(DOC_PATH, "rb") as f:
        return json.loads(f.read())


def router_routes():
    """(METHOD, pattern) of each row of the routing table in api/router.c."""
    with open(os.path.join(ROOT, "api", "router.c")) as f:
        text = f.read()
    table = re.search(r"routes\[\]\s*=\s*\{(.*?)\n\};", text, re.S).group(1)
    return re.findall(r'\{\s*"([A-Z]+)",\s*"([^"]+)"', table)


def router_params():
    """{(METHOD, pattern): set of query parameters} of the routing table: the
    space-separated string that ends a row, when it has one."""
    with open(os.path.join(ROOT, "api", "router.c")) as f:
        text = f.read()
    table = re.search(r"routes\[\]\s*=\s*\{(.*?)\n\};", text, re.S).group(1)
    params = {}
    for method, pattern, rest in re.findall(r'\{\s*"([A-Z]+)",\s*"([^"]+)"(.*?)\}', table, re.S):
        last = re.search(r',\s*"([^"]*)"\s*$', rest)
        params[(method, pattern)] = set(last.group(1).split()) if last else set()
    return params


def operations(doc):
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def type_ok(kind, v):
    return {"null": v is None, "boolean": isinstance(v, bool), "object": isinstance(v, dict),
            "array": isinstance(v, list), "string": isinstance(v, str),
            "number": isinstance(v, (int, float)) and not isinstance(v, bool),
            "integer": (isinstance(v, int) and not isinstance(v, bool))
            or (isinstance(v, float) and v.is_integer())}[kind]


# The JSON Schema keywords the document may use: check() knows each one, and
# known_keywords() fails on any other, so none is silently ignored.
KEYWORDS = {"description", "default", "format", "type", "enum", "const", "properties",
            "required", "additionalProperties", "items", "minItems", "maxItems", "uniqueItems",
            "minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength", "pattern", "oneOf",
            "$ref"}


def known_keywords(schema, where):
    """Raises on a keyword check() does not know, here or in a subschema."""
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise AssertionError("%s: keywords the checker does not know: %s" % (where, unknown))
    subs = list(schema.get("properties", {}).items())
    subs += [(k, schema.get(k)) for k in ("items", "additionalProperties")]
    subs += [("oneOf[%d]" % i, s) for i, s in enumerate(schema.get("oneOf", []))]
    for name, sub in subs:
        if isinstance(sub, dict):
            known_keywords(sub, where + "." + name)


def check(doc, schema, v, where="$"):
    """The JSON Schema (2020-12 subset) errors of value v, as a list of strings."""
    schema = resolve(doc, schema)
    errs = []
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(type_ok(k, v) for k in kinds):
            return ["%s: %r is not %s" % (where, v, "/".join(kinds))]
    if "enum" in schema and v not in schema["enum"]:
        errs.append("%s: %r not in %s" % (where, v, schema["enum"]))
    if "const" in schema and (v != schema["const"] or type(v) is not type(schema["const"])):
        errs.append("%s: %r is not %r" % (where, v, schema["const"]))
    if "oneOf" in schema:
        n = sum(1 for s in schema["oneOf"] if not check(doc, s, v, where))
        if n != 1:
            errs.append("%s: %r matches %d of the oneOf schemas" % (where, v, n))
    if isinstance(v, dict):
        props = schema.get("properties", {})
        errs += ["%s: %s is missing" % (where, k) for k in schema.get("required", []) if k not in v]
        for k, x in v.items():
            sub = props.get(k, schema.get("additionalProperties", True))
            if sub is False:
                errs.append("%s: unexpected key %s" % (where, k))
            elif sub is not True:
                errs += check(doc, sub, x, "%s.%s" % (where, k))
    if isinstance(v, list):
        if len(v) < schema.get("minItems", 0) or len(v) > schema.get("maxItems", len(v)):
            errs.append("%s: %d items is out of bounds" % (where, len(v)))
        if schema.get("uniqueItems") and len({json.dumps(x) for x in v}) != len(v):
            errs.append("%s: items repeat" % where)
        if "items" in schema:
            for i, x in enumerate(v):
                errs += check(doc, schema["items"], x, "%s[%d]" % (where, i))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if v < schema.get("minimum", v) or v > schema.get("maximum", v):
            errs.append("%s: %r is out of range" % (where, v))
        if "exclusiveMinimum" in schema and v <= schema["exclusiveMinimum"]:
            errs.append("%s: %r is not above %r" % (where, v, schema["exclusiveMinimum"]))
    if isinstance(v, str):
        if len(v) < schema.get("minLength", 0) or len(v) > schema.get("maxLength", len(v)):
            errs.append("%s: length %d is out of bounds" % (where, len(v)))
        if "pattern" in schema and not re.search(schema["pattern"], v):
            errs.append("%s: %r does not match %s" % (where, v, schema["pattern"]))
    return errs


def walk_schemas(node, where="$"):
    """Every top-level schema in the document (media types, parameters,
    components, x-events), with where it is."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "schema" or where.endswith(".schemas") or where.endswith(".x-events"):
                yield v, "%s.%s" % (where, k)
            yield from walk_schemas(v, "%s.%s" % (where, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk_schemas(v, "%s[%d]" % (where, i))


def examples(doc):
    """(schema, example value, where) of every example of a media type or parameter."""
    for method, path, op in operations(doc):
        targets = [resolve(doc, p) for p in op.get("parameters", [])]
        body = op.get("requestBody", {}).get("content", {})
        targets += list(body.values())
        for status, resp in op["responses"].items():
            targets += list(resolve(doc, resp).get("content", {}).values())
        for t in targets:
            where = "%s %s %s" % (method, path, t.get("name", ""))
            if "example" in t:
                yield t["schema"], t["example"], where
            for name, ex in t.get("examples", {}).items():
                yield t["schema"], ex["value"], where + " " + name


def route_of(doc, method, url):
    """The document's (pattern, operation) for a request path."""
    path = url.split("?")[0]
    for pattern, item in doc["paths"].items():
        rx = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(pattern)) + "$"
        if re.match(rx, path) and method.lower() in item:
            return pattern, item[method.lower()]
    return None, None


class DocumentTest(unittest.TestCase):
    """The document alone, against the code and the contract."""

    @classmethod
    def setUpClass(cls):
        cls.doc = load_doc()

    def test_routes_are_the_routing_table(self):
        table = set(router_routes())
        documented = {(m, p) for m, p, _ in operations(self.doc)}
        self.assertGreaterEqual(len(table), 16)
        self.assertEqual(table - documented, set(), "routes missing from api/openapi.json")
        self.assertEqual(documented - table, set(), "documented routes not in api/router.c")

    def test_query_parameters_are_the_routing_tables(self):
        # fitd refuses any other (400 unknown_parameter), so the two must agree.
        table = router_params()
        self.assertEqual(len(table), len(router_routes()))
        for method, path, op in operations(self.doc):
            documented = {resolve(self.doc, p)["name"] for p in op.get("parameters", [])
                          if resolve(self.doc, p)["in"] == "query"}
            self.assertEqual(documented, table[(method, path)], (method, path))

    def test_operation_ids_are_unique(self):
        ids = [op["operationId"] for _, _, op in operations(self.doc)]
        self.assertEqual(len(ids), len(set(ids)), ids)

    def test_path_parameters_are_declared(self):
        for method, path, op in operations(self.doc):
            declared = {resolve(self.doc, p)["name"] for p in op.get("parameters", [])
                        if resolve(self.doc, p)["in"] == "path"}
            self.assertEqual(declared, set(re.findall(r"\{([a-z_]+)\}", path)), (method, path))

    def test_security_follows_the_auth_contract(self):
        scheme = self.doc["components"]["securitySchemes"]["bearerAuth"]
        self.assertEqual((scheme["type"], scheme["scheme"]), ("http", "bearer"))
        for method, path, op in operations(self.doc):
            key = (method, path)
            if key in OPEN:
                want = []
            elif path == "/metrics":
                want = [{"bearerAuth": ["admin"]}]
            elif key in WRITES:
                want = [{"bearerAuth": ["write"]}]
            else:
                want = [{"bearerAuth": ["read"]}]
            self.assertEqual(op.get("security"), want, key)
            codes = set(op["responses"])
            for status in ("401", "403"):
                self.assertEqual(status in codes, key not in OPEN, (key, status))
            # The address's rate limit spares health checks alone.
            self.assertEqual("429" in codes, key != ("GET", "/healthz"), key)
            self.assertEqual("507" in codes, key in WRITES, key)

    def test_every_error_response_is_the_error_object(self):
        for method, path, op in operations(self.doc):
            for status, resp in op["responses"].items():
                resp = resolve(self.doc, resp)
                if status >= "400" and (method, path) != ("GET", "/readyz"):
                    self.assertEqual(resp["content"]["application/json"]["schema"],
                                     {"$ref": "#/components/schemas/Error"}, (method, path, status))

    def test_schemas_use_only_known_keywords(self):
        n = 0
        for schema, where in walk_schemas(self.doc):
            known_keywords(schema, where)
            n += 1
        self.assertGreater(n, 50)

    def test_examples_match_their_schemas(self):
        n = 0
        for schema, value, where in examples(self.doc):
            self.assertEqual(check(self.doc, schema, value), [], where)
            n += 1
        self.assertGreater(n, 25)

    def test_checker_rejects_what_it_should(self):
        job = self.doc["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]
        spec = job["examples"]["everything"]["value"]
        bad = [dict(spec, folds=3), dict(spec, task="clustering"),
               dict(spec, search=dict(spec["search"], max_attempts=11)),
               dict(spec, validation={"method": "cv", "fraction": 0.2}),
               dict(spec, space=dict(spec["space"], learning_rate=0)),
               {k: v for k, v in spec.items() if k != "target"}]
        for b in bad:
            self.assertNotEqual(check(self.doc, job["schema"], b), [], b)

    def test_corpus_statuses_and_codes_are_documented(self):
        n = 0
        for name in sorted(glob.glob(os.path.join(ROOT, "tests", "corpus", "cases", "*.json"))):
            with open(name) as f:
                case = json.load(f)
            pattern, op = route_of(self.doc, case["method"], case["path"])
            status, code = case["expect"]["status"], case["expect"].get("code")
            if op is None or status in (404, 405) and code in ("not_found", "method_not_allowed"):
                continue  # not an operation of the document: the general 404 and 405
            resp = resolve(self.doc, op["responses"].get(str(status), {}))
            self.assertIn("description", resp, (name, pattern, status))
            if code is not None:
                self.assertIn("`%s`" % code, resp["description"], (name, pattern, status))
            n += 1
        self.assertGreater(n, 200)

    def test_version_is_the_project_version(self):
        with open(os.path.join(ROOT, "meson.build")) as f:
            version = re.search(r"version:\s*'([^']+)'", f.read()).group(1)
        self.assertEqual(self.doc["info"]["version"], version)


class ValidatorTest(unittest.TestCase):
    """A standard validator from npm, its version pinned in tests/openapi/."""

    def test_document_passes_the_openapi_validator(self):
        self.assertIsNotNone(shutil.which("npm"), "npm is needed: deploy/deps.sh test installs it")
        cache = os.environ.get("FITD_NPM_DIR") or os.path.join(ROOT, "build", "openapi-npm")
        npm_ci(os.path.join(ROOT, "tests", "openapi"), cache,
               ("package.json", "package-lock.json", "check.mjs"))
        out = subprocess.run(["node", "check.mjs", DOC_PATH], cwd=cache, capture_output=True,
                             text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("valid OpenAPI 3.1", out.stdout)


class LiveTest(DaemonTest):
    """Real answers of the daemon against the document."""

    def setUp(self):
        super().setUp()
        self.doc = load_doc()
        self.seen = set()

    def conform(self, method, url, resp):
        """Asserts that resp (from fitdtest) is documented and matches its schema."""
        status, headers, body = resp
        pattern, op = route_of(self.doc, method, url)
        self.assertIsNotNone(op, (method, url))
        self.assertIn(str(status), op["responses"], (method, url, status, body))
        content = resolve(self.doc, op["responses"][str(status)])["content"]
        ctype = headers.get("content-type")
        self.assertIn(ctype, content, (method, url, status))
        schema = content[ctype]["schema"]
        if isinstance(body, bytes):
            body = body.decode()
        self.assertEqual(check(self.doc, schema, body), [], (method, url, status))
        self.seen.add((method, pattern, status))
        return body

    def call(self, method, url, body=None, headers=None):
        return self.conform(method, url, self.d.request(method, url, body, headers))

    def wait(self, job_id):
        path = "/v1/jobs/" + job_id
        return wait_job(self.d, job_id, timeout=60,
                        check=lambda resp: self.conform("GET", path, resp))

    def test_served_document_is_the_file(self):
        with open(DOC_PATH, "rb") as f:
            raw = f.read()
        status, headers, body = self.d.request("GET", "/v1/openapi.json")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(body, json.loads(raw))
        got = self.d.raw(b"GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(got.split(b"\r\n\r\n", 1)[1], raw)
        self.assertIn(b"\r\nContent-Length: %d\r\n" % len(raw), got)

    def test_answers_match_the_document(self):
        self.call("GET", "/healthz")
        self.call("GET", "/readyz")
        self.call("GET", "/v1/openapi.json")
        self.call("GET", "/metrics")
        self.call("GET", "/")
        self.call("GET", "/dash/app.js")
        self.call("GET", "/dash/nope.js")
        self.assertEqual(self.call("GET", "/v1/whoami")["scopes"], ["read", "write", "admin"])
        iris = self.call("POST", "/v1/datasets?name=iris", read_data("iris.csv"),
                         {"Content-Type": "text/csv"})
        seed = self.call("POST", "/v1/datasets?name=seed", read_data("seed_linear.csv"),
                         {"Content-Type": "text/csv"})
        self.call("POST", "/v1/datasets?name=bad", b"a,b\n1\n", {"Content-Type": "text/csv"})
        self.call("GET", "/v1/datasets?limit=1")
        self.call("GET", "/v1/datasets?limit=0")
        self.call("GET", "/v1/datasets/" + iris["id"])
        self.call("GET", "/v1/datasets/ds_00000000000000000000")
        self.call("GET", "/v1/datasets/nope")

        spec = {"dataset": iris["id"], "target": "species", "search": {"max_trials": 4}}
        job = self.call("POST", "/v1/jobs", spec, {"Idempotency-Key": "openapi-1"})
        self.call("POST", "/v1/jobs", spec, {"Idempotency-Key": "openapi-1"})
        self.call("POST", "/v1/jobs", dict(spec, search={"max_trials": 5}),
                  {"Idempotency-Key": "openapi-1"})
        self.call("POST", "/v1/jobs", dict(spec, colour="red"))
        self.call("POST", "/v1/jobs", dict(spec, target="nope"))
        long = self.call("POST", "/v1/jobs", dict(spec, search={"max_trials": 1000}))
        self.call("DELETE", "/v1/datasets/" + iris["id"])  # 409 while a job uses it
        events = self.d.request("GET", "/v1/jobs/%s/events" % job["id"], timeout=600)
        self.conform("GET", "/v1/jobs/%s/events" % job["id"], events)
        self.check_events(events[2].decode())
        done = self.wait(job["id"])
        self.assertEqual(done["state"], "succeeded", done)
        self.call("GET", "/v1/jobs?state=succeeded&limit=1")
        self.call("GET", "/v1/jobs?state=done")
        self.call("GET", "/v1/jobs/%s/trials?limit=2" % job["id"])
        self.call("GET", "/v1/jobs/%s/trials?limit=2&offset=2" % job["id"])
        self.call("POST", "/v1/jobs/%s/cancel" % job["id"])
        model = done["best"]["model_id"]
        self.call("GET", "/v1/models/" + model)
        self.call("GET", "/v1/models/mdl_00000000000000000000")
        self.call("POST", "/v1/models/%s/predict" % model,
                  b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n",
                  {"Content-Type": "text/csv"})
        self.call("POST", "/v1/models/%s/predict" % model, {"rows": [{"sepal_length": 5.1}]})
        self.call("POST", "/v1/models/%s/predict" % model, b"x\n1\n", {"Content-Type": "text/csv"})
        self.call("POST", "/v1/models/%s/predict" % model, b"<a/>", {"Content-Type": "text/xml"})
        self.call("POST", "/v1/models/%s/predict" % model,
                  {"rows": [{"sepal_length": 5.1, "petal_width": 2}], "explain": True})
        self.call("POST", "/v1/models/%s/predict?explain=maybe" % model, b"x\n1\n",
                  {"Content-Type": "text/csv"})
        trees = {"dataset": iris["id"], "target": "species", "search": {"max_trials": 1},
                 "space": {"models": "gbdt", "gbdt": {"trees": 20}}}
        gbdt = self.wait(self.call("POST", "/v1/jobs", trees)["id"])["best"]["model_id"]
        self.call("GET", "/v1/models/" + gbdt)
        self.call("POST", "/v1/models/%s/predict?explain=true" % gbdt,
                  b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n",
                  {"Content-Type": "text/csv"})

        fixed = {"dataset": seed["id"], "target": "y", "early_stopping": False,
                 "space": {"models": ["linear"], "optimizer": ["sgd"], "learning_rate": [0.01],
                           "batch_size": [32], "epochs": 100, "regularization": ["none"],
                           "loss": ["squared"]}, "search": {"max_trials": 1}}
        lin = self.wait(self.call("POST", "/v1/jobs", fixed)["id"])
        self.call("GET", "/v1/models/" + lin["best"]["model_id"])
        self.call("POST", "/v1/models/%s/predict" % lin["best"]["model_id"], {"rows": [{"x": 1}]})
        self.call("POST", "/v1/models/%s/predict?explain=true" % lin["best"]["model_id"],
                  {"rows": [{"x": 1}]})
        self.call("POST", "/v1/jobs/%s/cancel" % lin["id"])
        self.call("DELETE", "/v1/datasets/" + seed["id"])
        self.check_deleting_and_aliases(done, lin, long)

        self.assertEqual(self.call("POST", "/v1/jobs/%s/cancel" % long["id"])["cancel_requested"],
                         True)
        self.assertEqual(self.wait(long["id"])["state"], "cancelled")

        for op in [("GET", "/healthz", 200), ("POST", "/v1/datasets", 201), ("GET", "/", 200),
                   ("GET", "/dash/{file}", 200), ("GET", "/dash/{file}", 404),
                   ("GET", "/v1/whoami", 200),
                   ("GET", "/v1/jobs/{id}", 200), ("GET", "/v1/jobs/{id}/trials", 200),
                   ("GET", "/v1/models/{id}", 200), ("POST", "/v1/models/{id}/predict", 200),
                   ("POST", "/v1/models/{id}/predict", 422), ("POST", "/v1/jobs", 422),
                   ("POST", "/v1/jobs", 409), ("DELETE", "/v1/datasets/{id}", 409),
                   ("POST", "/v1/jobs/{id}/cancel", 202), ("GET", "/v1/datasets", 400),
                   ("PUT", "/v1/aliases/{name}", 201), ("PUT", "/v1/aliases/{name}", 200),
                   ("GET", "/v1/aliases", 200), ("GET", "/v1/aliases/{name}", 200),
                   ("POST", "/v1/aliases/{name}/predict", 200),
                   ("DELETE", "/v1/aliases/{name}", 200), ("DELETE", "/v1/jobs/{id}", 200),
                   ("DELETE", "/v1/jobs/{id}", 409), ("DELETE", "/v1/models/{id}", 409),
                   ("DELETE", "/v1/models/{id}", 200)]:
            self.assertIn(op, self.seen)

    def check_deleting_and_aliases(self, iris_job, linear_job, running):
        """The routes of deleting and aliases, on the jobs the walk above made."""
        model, linear = iris_job["best"]["model_id"], linear_job["best"]["model_id"]
        self.call("PUT", "/v1/aliases/churn-prod", {"model": model})
        self.call("PUT", "/v1/aliases/churn-prod", {"model": linear})
        self.call("PUT", "/v1/aliases/seed-linear", {"model": linear})
        self.call("PUT", "/v1/aliases/Bad", {"model": model})
        self.call("PUT", "/v1/aliases/x", {})
        self.call("PUT", "/v1/aliases/x", {"model": "mdl_00000000000000000000"})
        self.call("GET", "/v1/aliases?limit=1")
        self.call("GET", "/v1/aliases?after=nope")
        self.call("GET", "/v1/aliases/churn-prod")
        self.call("GET", "/v1/aliases/nope")
        self.call("POST", "/v1/aliases/churn-prod/predict", {"rows": [{"x": 1}]})
        self.call("POST", "/v1/aliases/nope/predict", {"rows": [{"x": 1}]})
        self.call("DELETE", "/v1/models/" + linear)  # 409: an alias and a job hold it
        self.call("DELETE", "/v1/jobs/" + running["id"])  # 409 while it runs
        self.call("DELETE", "/v1/aliases/seed-linear")
        self.call("DELETE", "/v1/aliases/seed-linear")
        # A model that is no job's best: an earlier best of the iris search.
        bests = {self.call("GET", "/v1/jobs/" + j["id"])["best"]["model_id"]
                 for j in (iris_job, linear_job, running)
                 if self.call("GET", "/v1/jobs/" + j["id"])["best"]}
        # (The running job's files are left alone: its next best may claim one, and a
        # file is written before its row commits.)
        others = [f for f in sorted(os.listdir(os.path.join(self.d.state_dir, "models")))
                  if f.startswith("mdl_") and f not in bests
                  and self.d.request("GET", "/v1/models/" + f)[2].get("job") == iris_job["id"]]
        self.assertTrue(others, "the iris search made only its best model")
        self.call("DELETE", "/v1/models/" + others[0])
        self.call("DELETE", "/v1/jobs/" + linear_job["id"])  # its model stays for churn-prod
        self.call("DELETE", "/v1/jobs/" + iris_job["id"])
        self.call("DELETE", "/v1/jobs/" + iris_job["id"])
        self.call("DELETE", "/v1/models/mdl_00000000000000000000")
        self.call("DELETE", "/v1/aliases/churn-prod")
        self.call("GET", "/readyz")

    def check_events(self, text):
        """Each event's data against the schema of its type (x-events)."""
        media = self.doc["paths"]["/v1/jobs/{id}/events"]["get"]["responses"]["200"]["content"]
        types = media["text/event-stream"]["x-events"]
        seen = set()
        for block in text.split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line
                          and not line.startswith(":"))
            if "event" not in fields:
                continue
            if fields["event"] != "job_deleted":  # the one event without an id
                self.assertRegex(fields["id"], r"^[0-9]+$")
            self.assertIn(fields["event"], types)
            data = json.loads(fields["data"])
            self.assertEqual(check(self.doc, types[fields["event"]], data), [], block)
            seen.add(fields["event"])
        rare = {"trial_progress", "job_deleted"}  # job_deleted: only on a deleted job
        self.assertEqual(seen - rare, set(types) - rare)


if __name__ == "__main__":
    unittest.main()
