#!/usr/bin/python3
"""The bad-input corpus (tests/corpus/cases/, written by make_cases.py): every
case gets exactly its expected 4xx with the JSON error format (and, when the
case gives one, a message holding its text), none gets a
5xx, and the daemon keeps serving with what was stored before intact. The
daemon runs with a token file; cases carry a token of every scope unless
they test access themselves."""
import glob
import json
import os
import re
import secrets
import socket
import tempfile
import unittest

from fitdtest import Daemon, read_data, wait_job, write_tokens

CASES = os.path.join(os.path.dirname(__file__), "..", "corpus", "cases")


def load_cases():
    cases = []
    for path in sorted(glob.glob(os.path.join(CASES, "*.json"))):
        with open(path) as f:
            cases.append(json.load(f))
    return cases


def body_of(c, subst):
    if "json" in c:
        return subst(json.dumps(c["json"])).encode()
    if "body_hex" in c:
        return subst(bytes.fromhex(c["body_hex"]).decode("latin-1")).encode("latin-1")
    if "body_parts" in c:
        return "".join(text * times for text, times in c["body_parts"]).encode()
    if "body" in c:
        return subst(c["body"]).encode("utf-8", "surrogatepass")
    return None


def raw_status(d, payload):
    """Status and body of a raw request."""
    resp = d.raw(payload)
    head, _, body = resp.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = dict(l.split(b": ", 1) for l in head.split(b"\r\n")[1:] if b": " in l)
    return status, headers.get(b"Content-Type", b"").decode(), body


def send(d, method, path, body, headers):
    """Like Daemon.request but keeps the body as bytes and the exact path."""
    with socket.create_connection(("127.0.0.1", d.port), timeout=60) as s:
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % (method, path)
        for k, v in headers.items():
            head += "%s: %s\r\n" % (k, v)
        if body is not None:
            head += "Content-Length: %d\r\n" % len(body)
        s.sendall(head.encode("utf-8") + b"\r\n")
        try:
            if body:
                s.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # an early answer (413) may close the connection mid-body
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
    resp = b"".join(chunks)
    head, _, rest = resp.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    hdrs = {k.lower(): v for k, v in
            (l.split(b": ", 1) for l in head.split(b"\r\n")[1:] if b": " in l)}
    if hdrs.get(b"transfer-encoding") == b"chunked":
        out, rest_ = b"", rest
        while rest_:
            size, _, rest_ = rest_.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest_ = out + rest_[:n], rest_[n + 2:]
        rest = out
    return status, hdrs.get(b"content-type", b"").decode(), rest


class Corpus(unittest.TestCase):
    def test_every_case(self):
        cases = load_cases()
        self.assertGreaterEqual(len(cases), 250)
        tokens = {"{TOKEN%s}" % suffix: secrets.token_urlsafe(32)
                  for suffix in ("", "_READ", "_WRITE", "_ADMIN")}
        token_dir = tempfile.TemporaryDirectory(prefix="fitd-corpus-")
        token_file = write_tokens(os.path.join(token_dir.name, "tokens"), {
            "full": (tokens["{TOKEN}"], "read,write,admin"),
            "reader": (tokens["{TOKEN_READ}"], "read"),
            "writer": (tokens["{TOKEN_WRITE}"], "write"),
            "operator": (tokens["{TOKEN_ADMIN}"], "admin")})
        d = Daemon(args=("--max-json-kib", "1024", "--max-upload-mib", "64",
                         "--max-columns", "4096", "--max-field-bytes", "65536",
                         "--token-file", token_file), token=tokens["{TOKEN}"]).start()
        try:
            status, _, ds = d.upload("iris", read_data("iris.csv"))
            self.assertEqual(status, 201, ds)
            status, _, job = d.request("POST", "/v1/jobs", body={
                "dataset": ds["id"], "target": "species",
                "space": {"models": ["logistic"], "optimizer": ["lbfgs"]},
                "search": {"max_trials": 1}})
            self.assertEqual(status, 201, job)
            job = wait_job(d, job["id"], timeout=120)
            self.assertEqual(job["state"], "succeeded", job)
            # A second job that stays queued keeps the dataset in use.
            status, _, busy = d.request("POST", "/v1/jobs", body={
                "dataset": ds["id"], "target": "species",
                "space": {"models": ["mlp"], "optimizer": ["sgd"], "epochs": 100000,
                          "learning_rate": [0.0001], "batch_size": [16]},
                "early_stopping": False, "search": {"max_trials": 1}})
            self.assertEqual(status, 201, busy)
            status, _, alias = d.request("PUT", "/v1/aliases/corpus",
                                         body={"model": job["best"]["model_id"]})
            self.assertEqual(status, 201, alias)
            ids = {"{DS}": ds["id"], "{JOB}": job["id"], "{MODEL}": job["best"]["model_id"],
                   "{BUSY}": busy["id"], "{ALIAS}": "corpus"}
            ids.update(tokens)

            def subst(text):
                return re.sub(r"\{(DS|JOB|MODEL|BUSY|ALIAS|TOKEN(_READ|_WRITE|_ADMIN)?)\}",
                              lambda m: ids[m.group(0)], text)

            failures = []
            for c in cases:
                path = subst(c["path"])
                if "raw" in c:
                    status, ctype, body = raw_status(d, subst(c["raw"]).encode("latin-1"))
                else:
                    headers = {k: subst(v) for k, v in c.get("headers", {}).items()}
                    if c.get("auth") != "none" and "Authorization" not in headers:
                        headers["Authorization"] = "Bearer " + tokens["{TOKEN}"]
                    if "json" in c:
                        headers.setdefault("Content-Type", "application/json")
                    status, ctype, body = send(d, c["method"], path, body_of(c, subst), headers)
                want = c["expect"]
                try:
                    err = json.loads(body)["error"]
                    code = err["code"]
                    ok = (status == want["status"] and code == want["code"] and
                          ctype.startswith("application/json") and
                          isinstance(err["message"], str) and err["message"] and
                          want.get("message", "") in err["message"])
                except (ValueError, KeyError, TypeError):
                    code, err, ok = body[:80], {}, False
                if not ok:
                    failures.append("%s: got %d %s (%s), want %d %s%s" % (
                        c["name"], status, code, err.get("message"), want["status"],
                        want["code"], " saying '%s'" % want["message"] if "message" in want
                        else ""))
                self.assertLess(status, 500, c["name"])
            self.assertEqual(failures, [], "\n".join(failures))
            # Still serving, and nothing stored before was touched.
            status, _, again = d.request("GET", "/v1/datasets/" + ds["id"])
            self.assertEqual((status, again["rows"], again["sha256"]),
                             (200, 150, ds["sha256"]))
            status, _, page = d.request("GET", "/v1/datasets")
            self.assertEqual([x["id"] for x in page["items"]], [ds["id"]])
            status, _, model = d.request("GET", "/v1/models/" + ids["{MODEL}"])
            self.assertEqual(status, 200)
            status, _, again = d.request("GET", "/v1/jobs/" + job["id"])
            self.assertEqual((status, again["best"]["model_id"]), (200, ids["{MODEL}"]))
            status, _, alias = d.request("GET", "/v1/aliases/corpus")
            self.assertEqual((status, alias["model"]), (200, ids["{MODEL}"]))
            status, _, page = d.request("GET", "/v1/aliases")
            self.assertEqual([a["name"] for a in page["items"]], ["corpus"])
            status, _, health = d.request("GET", "/healthz")
            self.assertEqual((status, health), (200, {"status": "ok"}))
            print("%d cases, each with its expected 4xx" % len(cases))
        finally:
            d.cleanup()
            token_dir.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
