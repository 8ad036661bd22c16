#!/usr/bin/python3
"""Access control against the real binary: bearer tokens and their scopes on
every route, the exact 401 and 403 challenges, open routes, tokens kept out
of the logs, the loopback rule, rate limits per token and per address, the
per-token caps on jobs and event streams, idempotency keys scoped per token,
and reloading the token file on SIGHUP."""

import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from fitdtest import FITD, Daemon, read_data, write_tokens

REALM = 'Bearer realm="fitd"'
NO_DS = "ds_00000000000000000000"
NO_JOB = "job_00000000000000000000"
NO_MODEL = "mdl_00000000000000000000"
# Every route that needs a token, with a request that reaches it, and the scope it needs.
ROUTES = [
    ("GET", "/v1/datasets", None, "read"),
    ("GET", "/v1/datasets/" + NO_DS, None, "read"),
    ("POST", "/v1/datasets?name=t", "a,b\n1,2\n", "write"),
    ("DELETE", "/v1/datasets/" + NO_DS, None, "write"),
    ("GET", "/v1/jobs", None, "read"),
    ("POST", "/v1/jobs", {"dataset": NO_DS, "target": "b"}, "write"),
    ("GET", "/v1/jobs/" + NO_JOB, None, "read"),
    ("POST", "/v1/jobs/%s/cancel" % NO_JOB, None, "write"),
    ("GET", "/v1/jobs/%s/trials" % NO_JOB, None, "read"),
    ("GET", "/v1/jobs/%s/events" % NO_JOB, None, "read"),
    ("DELETE", "/v1/jobs/" + NO_JOB, None, "write"),
    ("GET", "/v1/models/" + NO_MODEL, None, "read"),
    ("DELETE", "/v1/models/" + NO_MODEL, None, "write"),
    ("POST", "/v1/models/%s/predict" % NO_MODEL, {"rows": [{"a": 1}]}, "read"),
    ("GET", "/v1/aliases", None, "read"),
    ("GET", "/v1/aliases/x", None, "read"),
    ("PUT", "/v1/aliases/x", {"model": NO_MODEL}, "write"),
    ("DELETE", "/v1/aliases/x", None, "write"),
    ("POST", "/v1/aliases/x/predict", {"rows": [{"a": 1}]}, "read"),
    ("GET", "/metrics", None, "admin"),
]
# A job that trains far longer than any test waits (cancelled at the end).
SLOW = {"space": {"models": ["mlp"], "optimizer": ["sgd"], "epochs": 100000,
                  "learning_rate": [0.0001], "batch_size": [16]},
        "early_stopping": False, "search": {"max_trials": 1}}


def new_tokens(*specs):
    """{name: (random token, scopes)} for (name, scopes) pairs."""
    return {name: (secrets.token_urlsafe(32), scopes) for name, scopes in specs}


def call(d, method, path, body=None, token=None, headers=None):
    """A request with exactly the given bearer token (None: no Authorization header)."""
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if isinstance(body, str):
        hdrs["Content-Type"] = "text/csv"
    saved, d.token = d.token, None
    try:
        return d.request(method, path, body=body, headers=hdrs)
    finally:
        d.token = saved


def read_log(d):
    with open(d.log_path, encoding="utf-8", errors="replace") as f:
        return f.read()


def wait_until(check, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fitd-auth-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def assertUnauthorized(self, resp, challenge):
        status, headers, body = resp
        self.assertEqual(status, 401, body)
        self.assertEqual(headers.get("www-authenticate"), challenge)
        self.assertEqual(body["error"]["code"], "unauthorized")
        self.assertTrue(body["error"]["message"])


class Scopes(TempDirTest):
    """One daemon with a token per scope and one with all three."""

    def setUp(self):
        super().setUp()
        self.tokens = new_tokens(("full", "read,write,admin"), ("reader", "read"),
                                 ("writer", "write"), ("admin", "admin"))
        path = write_tokens(os.path.join(self.dir, "tokens"), self.tokens)
        self.d = Daemon(args=("--token-file", path, "--log-level", "debug")).start()

    def tearDown(self):
        self.d.cleanup()
        super().tearDown()

    def token(self, name):
        return self.tokens[name][0]

    def test_without_a_valid_token_every_route_is_401(self):
        for method, path, body, _ in ROUTES:
            with self.subTest(method=method, path=path):
                self.assertUnauthorized(call(self.d, method, path, body), REALM)
                self.assertUnauthorized(call(self.d, method, path, body, headers={
                    "Authorization": "Basic " + self.token("full")}), REALM)
                self.assertUnauthorized(call(self.d, method, path, body, token="x" + self.token(
                    "full")), REALM + ', error="invalid_token"')
                self.assertUnauthorized(call(self.d, method, path, body, token=""),
                                        REALM + ', error="invalid_token"')

    def test_each_route_needs_its_scope(self):
        for method, path, body, need in ROUTES:
            for name, (token, scopes) in self.tokens.items():
                with self.subTest(method=method, path=path, token=name):
                    status, headers, answer = call(self.d, method, path, body, token=token)
                    if need in scopes.split(","):
                        self.assertNotIn(status, (401, 403), answer)
                        self.assertLess(status, 500, answer)
                        continue
                    self.assertEqual(status, 403, answer)
                    self.assertEqual(answer["error"]["code"], "insufficient_scope")
                    self.assertEqual(headers.get("www-authenticate"),
                                     REALM + ', error="insufficient_scope", scope="%s"' % need)

    def test_a_valid_token_works_end_to_end(self):
        full = self.token("full")
        status, _, ds = call(self.d, "POST", "/v1/datasets?name=iris", read_data("iris.csv"),
                             token=full, headers={"Content-Type": "text/csv"})
        self.assertEqual(status, 201, ds)
        status, _, job = call(self.d, "POST", "/v1/jobs", {
            "dataset": ds["id"], "target": "species", "search": {"max_trials": 1}}, token=full)
        self.assertEqual(status, 201, job)
        status, _, got = call(self.d, "GET", "/v1/jobs/" + job["id"], token=self.token("reader"))
        self.assertEqual((status, got["id"]), (200, job["id"]))
        # The scheme is case-insensitive and may be followed by several spaces (RFC 6750, 7235).
        for scheme in ("bearer ", "BEARER ", "Bearer   "):
            status, _, page = call(self.d, "GET", "/v1/datasets", headers={
                "Authorization": scheme + self.token("reader")})
            self.assertEqual(status, 200, page)
            self.assertEqual([x["id"] for x in page["items"]], [ds["id"]])
        status, _, text = call(self.d, "GET", "/metrics", token=self.token("admin"))
        self.assertEqual(status, 200)
        self.assertIn(b'fitd_http_requests_total{route="/v1/jobs",method="POST",status="201"} 1',
                      text)

    def test_open_routes_need_no_token(self):
        for path in ("/healthz", "/readyz"):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
                status, hdrs, body = call(self.d, "GET", path, headers=headers)
                self.assertEqual(status, 200, body)
                self.assertNotIn("www-authenticate", hdrs)
        status, _, _ = call(self.d, "GET", "/v1/openapi.json")
        self.assertNotIn(status, (401, 403))

    def test_tokens_never_reach_the_log(self):
        for name, (token, _) in self.tokens.items():
            call(self.d, "GET", "/v1/jobs", token=token)
            call(self.d, "POST", "/v1/jobs", {"dataset": NO_DS, "target": "x"}, token=token)
            call(self.d, "GET", "/v1/jobs", token=token + "x")
            call(self.d, "GET", "/v1/jobs", headers={"Authorization": "Basic " + token})
            # A token in the query string is not accepted, and the query is not logged.
            self.assertUnauthorized(call(self.d, "GET", "/v1/jobs?access_token=" + token), REALM)
        self.d.stop()
        log = read_log(self.d)
        self.assertIn("event=tokens_loaded", log)
        for token, _ in self.tokens.values():
            self.assertNotIn(token[:12], log)
        # The token's name stands in for it.
        self.assertRegex(log, r"method=POST path=\"/v1/jobs\" status=404 us=\d+ token=full")
        self.assertRegex(log, r"method=POST path=\"/v1/jobs\" status=403 us=\d+ token=reader")
        self.assertRegex(log, r"method=GET path=\"/v1/jobs\" status=200 us=\d+ token=full\n")


class Startup(TempDirTest):
    def run_fitd(self, *args):
        return subprocess.run([FITD, "--state-dir", os.path.join(self.dir, "state")] + list(args),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)

    def test_refuses_an_open_api_beyond_loopback(self):
        for listen in ("0.0.0.0:0", "[::]:0"):
            r = self.run_fitd("--listen", listen)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(b"needs a token-file", r.stderr)
            self.assertEqual(r.stderr.count(b"\n"), 1, r.stderr)
        tokens = new_tokens(("ops", "read"))
        path = write_tokens(os.path.join(self.dir, "tokens"), tokens)
        d = Daemon(args=("--listen", "0.0.0.0:0", "--token-file", path)).start()
        try:
            self.assertUnauthorized(call(d, "GET", "/v1/jobs"), REALM)
            self.assertEqual(call(d, "GET", "/v1/jobs", token=tokens["ops"][0])[0], 200)
        finally:
            d.cleanup()

    def test_refuses_a_bad_token_file_naming_the_line(self):
        good = write_tokens(os.path.join(self.dir, "good"), new_tokens(("a", "read")))
        with open(good) as f:
            first = f.read()
        for text, reason in [("%sabc read b\n", b":4: the hash must be 64 hex digits"),
                             ("%s" + "0" * 64 + " rw b\n", b":4: unknown scope 'rw'"),
                             ("%s" + "1" * 64 + " read a\n", b":4: the name is already used")]:
            path = os.path.join(self.dir, "bad")
            with open(path, "w") as f:
                f.write(text % (first + "\n"))
            r = self.run_fitd("--listen", "127.0.0.1:0", "--token-file", path)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(b"token file " + path.encode() + reason, r.stderr)
            self.assertEqual(r.stderr.count(b"\n"), 1, r.stderr)
        r = self.run_fitd("--listen", "127.0.0.1:0", "--token-file", os.path.join(self.dir, "no"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"cannot open", r.stderr)


class RateLimits(TempDirTest):
    def assertRateLimited(self, resp, who):
        status, headers, body = resp
        self.assertEqual(status, 429, body)
        self.assertEqual(body["error"]["code"], "rate_limited")
        self.assertIn(who, body["error"]["message"])
        self.assertRegex(headers.get("retry-after", ""), r"^[1-9][0-9]*$")

    def first_refusal(self, send, tries=30):
        for _ in range(tries):
            resp = send()
            if resp[0] != 200:
                return resp
        self.fail("no request of %d was refused" % tries)

    def test_token_bucket(self):
        tokens = new_tokens(("a", "read"), ("b", "read"))
        path = write_tokens(os.path.join(self.dir, "tokens"), tokens)
        d = Daemon(args=("--token-file", path, "--rate-limit-token", "1", "--rate-burst-token",
                         "3", "--rate-limit-ip", "0")).start()
        try:
            resp = self.first_refusal(lambda: call(d, "GET", "/v1/jobs", token=tokens["a"][0]))
            self.assertRateLimited(resp, "token")
            # Another token has its own bucket, and open routes have none.
            self.assertEqual(call(d, "GET", "/v1/jobs", token=tokens["b"][0])[0], 200)
            self.assertEqual(call(d, "GET", "/healthz")[0], 200)
        finally:
            d.cleanup()

    def test_address_bucket(self):
        d = Daemon(args=("--rate-limit-ip", "1", "--rate-burst-ip", "3")).start()
        try:
            resp = self.first_refusal(lambda: call(d, "GET", "/v1/jobs"))
            self.assertRateLimited(resp, "address")
            # Unknown paths and open routes count too; health checks never do.
            self.assertRateLimited(call(d, "GET", "/nowhere"), "address")
            self.assertRateLimited(call(d, "GET", "/readyz"), "address")
            for _ in range(5):
                self.assertEqual(call(d, "GET", "/healthz")[0], 200)
        finally:
            d.cleanup()


class Caps(TempDirTest):
    def setUp(self):
        super().setUp()
        self.tokens = new_tokens(("a", "read,write"), ("b", "read,write"))
        path = write_tokens(os.path.join(self.dir, "tokens"), self.tokens)
        self.d = Daemon(args=("--token-file", path, "--max-jobs-per-token", "2",
                              "--max-streams-per-token", "2", "--worker-threads", "1"),
                        token=self.tokens["a"][0]).start()
        status, _, ds = self.d.upload("iris", read_data("iris.csv"))
        self.assertEqual(status, 201, ds)
        self.spec = dict(SLOW, dataset=ds["id"], target="species")
        self.jobs = []

    def tearDown(self):
        for job in self.jobs:
            self.d.request("POST", "/v1/jobs/%s/cancel" % job)
        self.d.cleanup()
        super().tearDown()

    def submit(self, token_name, key=None, spec=None):
        headers = {"Authorization": "Bearer " + self.tokens[token_name][0]}
        if key:
            headers["Idempotency-Key"] = key
        status, hdrs, job = self.d.request("POST", "/v1/jobs", body=spec or self.spec,
                                           headers=headers)
        if status == 201:
            self.jobs.append(job["id"])
        return status, hdrs, job

    def test_live_jobs_per_token(self):
        first = self.submit("a", key="k1")
        self.assertEqual(first[0], 201, first[2])
        self.assertEqual(self.submit("a")[0], 201)
        status, headers, body = self.submit("a")
        self.assertEqual(status, 429, body)
        self.assertEqual(body["error"]["code"], "too_many_jobs")
        # Replaying a job it already has is not a new job.
        status, headers, again = self.submit("a", key="k1")
        self.assertEqual((status, again["id"]), (201, first[2]["id"]))
        self.assertEqual(headers.get("idempotent-replayed"), "true")
        # Other tokens are not affected; an ended job frees a place.
        self.assertEqual(self.submit("b")[0], 201)
        status, _, _ = self.d.request("POST", "/v1/jobs/%s/cancel" % first[2]["id"])
        self.assertEqual(status, 202)
        self.assertTrue(wait_until(lambda: self.d.request(
            "GET", "/v1/jobs/" + first[2]["id"])[2]["state"] == "cancelled"))
        self.assertEqual(self.submit("a")[0], 201)

    def test_idempotency_keys_per_token(self):
        other = dict(self.spec, search={"max_trials": 1, "seed": 12345})
        status, _, a = self.submit("a", key="k")
        self.assertEqual(status, 201, a)
        status, _, a2 = self.submit("a", key="k2")
        self.assertEqual(status, 201, a2)
        # Another token's keys are not seen: under them b gets jobs of its own, whatever the
        # spec, and nothing of a's.
        status, headers, b = self.submit("b", key="k", spec=other)
        self.assertEqual(status, 201, b)
        self.assertNotIn("idempotent-replayed", headers)
        self.assertEqual(b["spec"]["search"]["seed"], 12345)
        status, headers, b2 = self.submit("b", key="k2")
        self.assertEqual(status, 201, b2)
        self.assertNotIn("idempotent-replayed", headers)
        self.assertEqual(len({a["id"], a2["id"], b["id"], b2["id"]}), 4)
        for answer in (b, b2):
            self.assertNotIn(a["id"], json.dumps(answer))
            self.assertNotIn(a2["id"], json.dumps(answer))
        # Each token replays its own jobs, and only its own spec matches its key.
        for token, key, spec, job in (("a", "k", None, a), ("a", "k2", None, a2),
                                      ("b", "k", other, b), ("b", "k2", None, b2)):
            with self.subTest(token=token, key=key):
                status, headers, again = self.submit(token, key=key, spec=spec)
                self.assertEqual((status, again["id"]), (201, job["id"]))
                self.assertEqual(headers.get("idempotent-replayed"), "true")
        status, _, body = self.submit("a", key="k", spec=other)
        self.assertEqual(status, 409, body)
        self.assertEqual(body["error"]["code"], "idempotency_key_reused")
        self.assertIn(a["id"], body["error"]["message"])
        self.assertNotIn(b["id"], body["error"]["message"])

    def open_stream(self, job, token_name):
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=60)
        conn.request("GET", "/v1/jobs/%s/events" % job,
                     headers={"Authorization": "Bearer " + self.tokens[token_name][0]})
        return conn, conn.getresponse()

    def test_open_streams_per_token(self):
        status, _, job = self.submit("a")
        self.assertEqual(status, 201, job)
        open_ = [self.open_stream(job["id"], "a") for _ in range(2)]
        for _, resp in open_:
            self.assertEqual(resp.status, 200)
        conn, resp = self.open_stream(job["id"], "a")
        self.assertEqual(resp.status, 429)
        self.assertIn(b'"too_many_streams"', resp.read())
        conn.close()
        other, resp = self.open_stream(job["id"], "b")
        self.assertEqual(resp.status, 200)
        other.close()
        # Closing a stream gives its place back once the daemon notices (at the latest on the
        # next event or keep-alive).
        open_[0][0].close()

        def reopened():
            conn, resp = self.open_stream(job["id"], "a")
            conn.close()
            return resp.status == 200
        self.assertTrue(wait_until(reopened, timeout=60))
        open_[1][0].close()


class Reload(TempDirTest):
    def test_sighup_swaps_the_token_file(self):
        old = new_tokens(("old", "read"))
        path = write_tokens(os.path.join(self.dir, "tokens"), old)
        d = Daemon(args=("--token-file", path)).start()
        try:
            self.assertEqual(call(d, "GET", "/v1/jobs", token=old["old"][0])[0], 200)
            new = new_tokens(("new", "read"), ("new2", "write"))
            write_tokens(path + ".tmp", new)
            os.rename(path + ".tmp", path)
            d.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_until(
                lambda: call(d, "GET", "/v1/jobs", token=new["new"][0])[0] == 200))
            self.assertUnauthorized(call(d, "GET", "/v1/jobs", token=old["old"][0]),
                                    REALM + ', error="invalid_token"')
            # A file that does not parse is refused and the tokens in use stay.
            with open(path, "w") as f:
                f.write("not a token line\n")
            d.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_until(lambda: "key=token-file reason=" in read_log(d)))
            self.assertEqual(call(d, "GET", "/v1/jobs", token=new["new"][0])[0], 200)
            d.stop()
            log = read_log(d)
            self.assertIn("event=reloaded key=token-file tokens=2", log)
            self.assertRegex(log, r"event=reload_failed key=token-file reason=\"token file "
                             r"[^\"]*:1: expected [^\n]* kept=previous")
        finally:
            d.cleanup()

if __name__ == "__main__":
    unittest.main(verbosity=2)
