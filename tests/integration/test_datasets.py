"""Datasets over HTTP against the real binary: upload the real tables, read
them back, list, delete, restart, and every bad input of the contract."""

import json
import os
import re
import signal
import socket
import time
import unittest
import urllib.error
import urllib.request

from fitdtest import Daemon, DaemonTest, read_data

TABLES = {
    # name: (rows, columns, {categorical column: levels})
    "iris": (150, 5, {"species": 3}),
    "wine": (178, 14, {"cultivar": 3}),
    "breast_cancer": (569, 31, {"diagnosis": 2}),
    "digits": (1797, 65, {}),
    "diabetes": (442, 11, {}),
    "seed_linear": (100, 2, {}),
}


class Health(DaemonTest):
    def test_healthz_and_readyz(self):
        status, headers, body = self.d.request("GET", "/healthz")
        self.assertEqual((status, body), (200, {"status": "ok"}))
        self.assertEqual(headers["content-type"], "application/json")
        status, _, body = self.d.request("GET", "/readyz")
        self.assertEqual(status, 200)

    def test_unknown_path_is_404_json(self):
        self.assertError(self.d.request("GET", "/v1/nothing"), 404, "not_found")
        self.assertError(self.d.request("GET", "/dash/nothing.js"), 404, "not_found")

    def test_wrong_method_is_405_with_allow(self):
        resp = self.d.request("PUT", "/v1/datasets")
        self.assertError(resp, 405, "method_not_allowed")
        self.assertIn("GET", resp[1]["allow"])
        self.assertIn("POST", resp[1]["allow"])
        self.assertError(self.d.request("POST", "/healthz"), 405, "method_not_allowed")


class QueryParameters(DaemonTest):
    """Every route refuses a query parameter it does not take, naming it, before
    anything else about the request; the ones it takes still work."""

    NO = "00000000000000000000"
    # method, path with the parameters the route needs, the parameters it takes
    ROUTES = [("GET", "/healthz", ()), ("GET", "/readyz", ()), ("GET", "/metrics", ()),
              ("GET", "/v1/openapi.json", ()),
              ("POST", "/v1/datasets?name=x", ("name", "delimiter")),
              ("GET", "/v1/datasets", ("limit", "after")),
              ("GET", "/v1/datasets/ds_" + NO, ()), ("DELETE", "/v1/datasets/ds_" + NO, ()),
              ("POST", "/v1/jobs", ()), ("GET", "/v1/jobs", ("state", "limit", "after")),
              ("GET", "/v1/jobs/job_" + NO, ()), ("POST", "/v1/jobs/job_%s/cancel" % NO, ()),
              ("GET", "/v1/jobs/job_%s/trials" % NO, ("limit", "offset")),
              ("GET", "/v1/jobs/job_%s/events" % NO, ("after",)),
              ("GET", "/v1/models/mdl_" + NO, ()),
              ("POST", "/v1/models/mdl_%s/predict" % NO, ())]

    def test_every_route_refuses_an_unknown_parameter(self):
        for method, path, takes in self.ROUTES:
            for key, arg in (("nope", "nope=1"), ("Limit", "Limit=5"), ("name", "name=x"),
                             ("delimiter", "delimiter=tab"), ("after", "after"), ("", "=1")):
                if key in takes or (key and key in path):
                    continue
                target = path + ("&" if "?" in path else "?") + arg
                resp = self.d.request(method, target,
                                      body=b"a,b\n1,2\n" if method == "POST" else None)
                self.assertError(resp, 400, "unknown_parameter")
                self.assertIn("'%s'" % key, resp[2]["error"]["message"], target)

    def test_known_parameters_still_work(self):
        self.assertEqual(self.d.request("GET", "/v1/datasets?limit=5")[0], 200)
        self.assertEqual(self.d.request("GET", "/v1/jobs?state=running&limit=2")[0], 200)
        status, _, ds = self.d.upload("named", b"a,b\n1,2\n")
        self.assertEqual(status, 201, ds)


class Delimiters(DaemonTest):
    """Tables as people export them: tab-separated (by content type or by
    ?delimiter=), semicolon- and pipe-separated; a conflicting pair refused;
    a file read with the wrong delimiter says which one it holds."""

    TABLE = [["sepal", "species", "note"], ["5.1", "setosa", "a, b"], ["4.9", "versicolor", ""]]

    def table(self, sep):
        return ("\n".join(sep.join(row) for row in self.TABLE) + "\n").encode()

    def check(self, resp):
        status, _, ds = resp
        self.assertEqual(status, 201, ds)
        self.assertEqual([c["name"] for c in ds["columns"]], ["sepal", "species", "note"])
        self.assertEqual([c["type"] for c in ds["columns"]],
                         ["numeric", "categorical", "categorical"])
        self.assertEqual(ds["columns"][2]["levels"], ["a, b"])
        return ds

    def test_tsv_by_content_type(self):
        self.check(self.d.upload("tsv", self.table("\t"), "text/tab-separated-values"))
        self.check(self.d.upload("tsv", self.table("\t"),
                                 "Text/Tab-Separated-Values; charset=utf-8"))

    def test_tsv_by_parameter(self):
        for value in ("%09", "tab"):
            self.check(self.d.upload("tsv&delimiter=" + value, self.table("\t")))
        # Both saying tab agree.
        self.check(self.d.upload("tsv&delimiter=tab", self.table("\t"),
                                 "text/tab-separated-values"))

    def test_semicolon_and_pipe(self):
        for value in (";", "%3B", "semicolon"):
            self.check(self.d.upload("semi&delimiter=" + value, self.table(";")))
        for value in ("|", "%7C", "pipe"):
            self.check(self.d.upload("pipe&delimiter=" + value, self.table("|")))
        self.check(self.d.upload("comma&delimiter=comma", b'sepal,species,note\n'
                                 b'5.1,setosa,"a, b"\n4.9,versicolor,\n'))

    def test_conflicts_and_bad_values(self):
        resp = self.d.upload("x&delimiter=%3B", self.table("\t"), "text/tab-separated-values")
        self.assertError(resp, 400, "conflicting_delimiter")
        self.assertIn("text/tab-separated-values", resp[2]["error"]["message"])
        for value in (":", "%20", "tabs", "", ",,"):
            self.assertError(self.d.upload("x&delimiter=" + value, self.table(",")),
                             400, "invalid_parameter")
        self.assertEqual(os.listdir(os.path.join(self.d.state_dir, "tmp")), [])

    def test_wrong_delimiter_is_named(self):
        # A TSV sent as CSV used to be one column named "sepal\tspecies\tnote".
        resp = self.d.upload("tsv", self.table("\t"))
        self.assertError(resp, 400, "wrong_delimiter")
        self.assertIn("?delimiter=tab", resp[2]["error"]["message"])
        # A semicolon export whose header holds a comma: the first row is ragged.
        body = b"name;price;notes, misc\napple;1,5;fresh, red\n"
        resp = self.d.upload("semi", body)
        self.assertError(resp, 400, "ragged_row")
        self.assertIn("?delimiter=semicolon", resp[2]["error"]["message"])
        # Following the hint works.
        status, _, ds = self.d.upload("semi&delimiter=semicolon", body)
        self.assertEqual((status, ds["cols"]), (201, 3))
        status, _, page = self.d.request("GET", "/v1/datasets")
        self.assertEqual([x["name"] for x in page["items"]], ["semi"])


class Gzip(DaemonTest):
    """Content-Encoding: gzip, inflated as the body arrives; the limits apply
    to the inflated bytes; a corrupt stream and other encodings refused."""
    daemon_args = ("--max-upload-mib", "1")

    def gz_upload(self, name, data, encoding="gzip", content_type="text/csv"):
        return self.d.request("POST", "/v1/datasets?name=" + name, body=data,
                              headers={"Content-Type": content_type,
                                       "Content-Encoding": encoding})

    def test_gzipped_csv_and_tsv(self):
        import gzip
        import hashlib
        csv = read_data("iris.csv")
        status, _, ds = self.gz_upload("iris", gzip.compress(csv))
        self.assertEqual(status, 201, ds)
        self.assertEqual((ds["rows"], ds["cols"]), (150, 5))
        # bytes and sha256 are those of the CSV itself, however it was sent.
        self.assertEqual(ds["bytes"], len(csv))
        self.assertEqual(ds["sha256"], hashlib.sha256(csv).hexdigest())
        tsv = csv.replace(b",", b"\t")
        status, _, ds = self.gz_upload("iris_tsv", gzip.compress(tsv),
                                       content_type="text/tab-separated-values")
        self.assertEqual((status, ds["rows"], ds["cols"]), (201, 150, 5), ds)
        # Two gzip members one after the other (cat a.gz b.gz) are one body.
        half = csv.index(b"\n", len(csv) // 2) + 1
        status, _, ds = self.gz_upload("two", gzip.compress(csv[:half]) +
                                       gzip.compress(csv[half:]))
        self.assertEqual((status, ds["rows"], ds["sha256"]),
                         (201, 150, hashlib.sha256(csv).hexdigest()), ds)
        # x-gzip is gzip; identity is no encoding.
        self.assertEqual(self.gz_upload("x", gzip.compress(csv), "x-gzip")[0], 201)
        self.assertEqual(self.gz_upload("id", csv, "identity")[0], 201)

    def test_zip_bomb_is_413(self):
        import gzip
        bomb = gzip.compress(b"a\n" + b"1\n" * (8 << 20), 9)
        self.assertLess(len(bomb), 64 * 1024)
        resp = self.gz_upload("bomb", bomb)
        self.assertError(resp, 413, "payload_too_large")
        self.assertIn("decompressed", resp[2]["error"]["message"])
        self.assertEqual(os.listdir(os.path.join(self.d.state_dir, "tmp")), [])

    def test_corrupt_gzip_is_400(self):
        import gzip
        good = gzip.compress(b"a,b\n1,2\n" * 1000)
        for name, body in [("not-gzip", b"a,b\n1,2\n"),
                           ("flipped", good[:30] + bytes([good[30] ^ 0xff]) + good[31:]),
                           ("truncated", good[:len(good) // 2]),
                           ("bad-crc", good[:-8] + bytes(8)),
                           ("trailing-junk", good + b"junk")]:
            resp = self.gz_upload(name, body)
            self.assertError(resp, 400, "bad_encoding")
        status, _, page = self.d.request("GET", "/v1/datasets")
        self.assertEqual(page["items"], [])
        self.assertEqual(os.listdir(os.path.join(self.d.state_dir, "tmp")), [])

    def test_other_encodings_are_415(self):
        for enc in ("br", "deflate", "compress", "gzip, gzip", "zstd"):
            self.assertError(self.gz_upload("x", b"a\n1\n", enc), 415, "unsupported_encoding")


class Upload(DaemonTest):
    def test_real_tables_round_trip(self):
        ids = {}
        for name, (rows, ncols, cats) in TABLES.items():
            csv = read_data(name + ".csv")
            status, _, ds = self.d.upload(name, csv)
            self.assertEqual(status, 201, ds)
            self.assertTrue(ds["id"].startswith("ds_"))
            self.assertEqual(ds["name"], name)
            self.assertEqual(ds["rows"], rows)
            self.assertEqual(ds["bytes"], len(csv))
            self.assertEqual(len(ds["columns"]), ncols)
            import hashlib
            self.assertEqual(ds["sha256"], hashlib.sha256(csv).hexdigest())
            for col in ds["columns"]:
                self.assertEqual(col["missing"], 0)
                if col["name"] in cats:
                    self.assertEqual(col["type"], "categorical", col)
                    self.assertEqual(len(col["levels"]), cats[col["name"]])
                else:
                    self.assertEqual(col["type"], "numeric", col)
            status, _, got = self.d.request("GET", "/v1/datasets/" + ds["id"])
            self.assertEqual((status, got), (200, ds))
            ids[name] = ds["id"]

        # Pagination walks every dataset exactly once, in creation order.
        seen, after = [], None
        while True:
            path = "/v1/datasets?limit=4" + ("&after=" + after if after else "")
            status, _, page = self.d.request("GET", path)
            self.assertEqual(status, 200, page)
            seen += [d["id"] for d in page["items"]]
            after = page["next_after"]
            if after is None:
                break
        self.assertEqual(seen, list(ids.values()))

        # Delete removes the row and the file.
        victim = ids["wine"]
        status, _, _ = self.d.request("DELETE", "/v1/datasets/" + victim)
        self.assertEqual(status, 200)
        self.assertError(self.d.request("GET", "/v1/datasets/" + victim), 404, "dataset_not_found")
        self.assertError(self.d.request("DELETE", "/v1/datasets/" + victim), 404, "dataset_not_found")
        self.assertFalse(os.path.exists(os.path.join(self.d.state_dir, "datasets", victim)))

        # Everything else survives a restart.
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        status, _, page = self.d.request("GET", "/v1/datasets?limit=100")
        self.assertEqual([d["id"] for d in page["items"]],
                         [i for n, i in ids.items() if n != "wine"])
        status, _, ds = self.d.request("GET", "/v1/datasets/" + ids["iris"])
        self.assertEqual((status, ds["rows"]), (200, 150))

    def test_missing_values_and_quoting(self):
        csv = (b'\xef\xbb\xbfa,b,"c, with comma"\r\n'
               b'1,x,"say ""hi"""\r\n'
               b'NA,y,"two\nlines"\r\n'
               b'3,,?\r\n')
        status, _, ds = self.d.upload("quoted", csv)
        self.assertEqual(status, 201, ds)
        self.assertEqual(ds["rows"], 3)
        cols = {c["name"]: c for c in ds["columns"]}
        self.assertEqual(list(cols), ["a", "b", "c, with comma"])
        self.assertEqual((cols["a"]["type"], cols["a"]["missing"]), ("numeric", 1))
        self.assertEqual((cols["b"]["type"], cols["b"]["missing"]), ("categorical", 1))
        self.assertEqual(cols["c, with comma"]["levels"], ['say "hi"', "two\nlines"])

    def test_missing_tokens_are_the_readmes(self):
        # The README lists the missing-value tokens; the parser must agree
        # both ways over the spellings tables use: every listed token reads
        # as missing, every other spelling keeps its column categorical.
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")) as f:
            readme = f.read()
        m = re.search(r"Missing values are empty fields and these\s+tokens.*?:(.*?)\.\s",
                      readme, re.S)
        self.assertIsNotNone(m, "README lost its list of missing-value tokens")
        listed = re.findall(r"`([^`]+)`", m.group(1))
        candidates = set(listed) | {"None", "none", "na", "NAN", "N.A.", "-", "--", "#NA",
                                    "NA ", " null", "nil", "NaT", "missing", "."}
        for token in sorted(candidates):
            csv = ("x\n1\n%s\n3\n" % token).encode()
            status, _, ds = self.d.upload("tok", csv)
            self.assertEqual(status, 201, ds)
            col = ds["columns"][0]
            if token.strip(" ") in listed:
                self.assertEqual((col["type"], col["missing"]), ("numeric", 1), repr(token))
            else:
                self.assertEqual((col["type"], col["missing"]), ("categorical", 0), repr(token))

    def test_pagination_parameters(self):
        self.assertError(self.d.request("GET", "/v1/datasets?limit=0"), 400, "invalid_parameter")
        self.assertError(self.d.request("GET", "/v1/datasets?limit=abc"), 400, "invalid_parameter")
        self.assertError(self.d.request("GET", "/v1/datasets?limit=1001"), 400, "invalid_parameter")
        self.assertError(self.d.request("GET", "/v1/datasets?after=ds_00000000000000000000"),
                         400, "invalid_cursor")


class BadUploads(DaemonTest):
    daemon_args = ("--max-columns", "50", "--max-field-bytes", "64", "--max-upload-mib", "1")

    def bad(self, csv, status, code, contains=None):
        resp = self.d.upload("bad", csv)
        self.assertError(resp, status, code)
        if contains:
            self.assertIn(contains, resp[2]["error"]["message"])
        return resp

    def test_each_bad_csv(self):
        self.bad(b"", 400, "empty_body")
        self.bad(b"a,b\n", 422, "no_rows")
        self.bad(b"a,b\n1,2\n3\n", 400, "ragged_row", "row 2")
        self.bad(b"a,b\n1,2,3\n", 400, "ragged_row")
        self.bad(b'a,b\n1,"open\n', 400, "unterminated_quote")
        self.bad(b"a,b\n1,\x002\n", 400, "nul_byte")
        self.bad(b"a,b\n1,\xff\xfe\n", 400, "invalid_utf8")
        self.bad(b"a,a\n1,2\n", 422, "duplicate_column", "a")
        self.bad(b"a,,c\n1,2,3\n", 422, "empty_column_name")
        self.bad(b",".join(b"c%d" % i for i in range(51)) + b"\n" +
                 b",".join(b"1" for _ in range(51)) + b"\n", 422, "too_many_columns")
        self.bad(b"a,b\n1," + b"x" * 65 + b"\n", 422, "field_too_long")
        # Nothing half-written is left behind.
        status, _, page = self.d.request("GET", "/v1/datasets")
        self.assertEqual(page["items"], [])
        self.assertEqual(os.listdir(os.path.join(self.d.state_dir, "datasets")), [])
        self.assertEqual(os.listdir(os.path.join(self.d.state_dir, "tmp")), [])

    def test_oversized_body_is_413(self):
        self.bad(b"a\n" + b"1\n" * (600 * 1024), 413, "payload_too_large")

    def test_missing_content_length_is_411(self):
        raw = self.d.raw(b"POST /v1/datasets?name=x HTTP/1.1\r\nHost: t\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n4\r\na,b\n\r\n0\r\n\r\n")
        self.assertTrue(raw.startswith(b"HTTP/1.1 411"), raw[:80])
        self.assertIn(b'"length_required"', raw)

    def test_bad_names_and_media_type(self):
        self.assertError(self.d.request("POST", "/v1/datasets", body=b"a\n1\n"), 400, "invalid_name")
        self.assertError(self.d.upload("", b"a\n1\n"), 400, "invalid_name")
        self.assertError(self.d.upload("x%0Ay", b"a\n1\n"), 400, "invalid_name")
        self.assertError(self.d.upload("x", b"a\n1\n", content_type="multipart/form-data; b=1"),
                         415, "unsupported_media_type")

    def test_malformed_ids(self):
        for bad_id in ("nope", "ds_123", "ds_ZZZZZZZZZZZZZZZZZZZZ", "..",
                       "ds_000000000000000000000"):
            self.assertError(self.d.request("GET", "/v1/datasets/" + bad_id), 400, "invalid_id")
        # A decoded slash makes it another path, which no route matches.
        self.assertError(self.d.request("GET", "/v1/datasets/..%2F..%2Fetc"), 404, "not_found")
        self.assertError(self.d.request("GET", "/v1/datasets/ds_00000000000000000000"),
                         404, "dataset_not_found")


class EveryClientReads(DaemonTest):
    """Clients that send their whole body before reading (Python's urllib and
    requests do) read fitd's early answers, not a reset connection: the
    refused body is read and dropped before the answer goes out."""
    daemon_args = ("--max-upload-mib", "1")

    def urlopen(self, path, body, ctype):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.d.port, path), data=body,
                                     headers={"Content-Type": ctype}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.headers, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, e.headers, json.loads(e.read())

    def test_job_spec_over_the_json_limit(self):
        body = json.dumps({"dataset": "ds_00000000000000000000", "target": "y",
                           "exclude_columns": ["x" * (16 << 20)]}).encode()
        status, headers, answer = self.urlopen("/v1/jobs", body, "application/json")
        self.assertEqual(status, 413, answer)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(answer["error"]["code"], "payload_too_large")

    def test_upload_over_max_upload_mib(self):
        body = b"a,b\n" + b"1,2\n" * (4 << 20)
        status, headers, answer = self.urlopen("/v1/datasets?name=big", body, "text/csv")
        self.assertEqual(status, 413, answer)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(answer["error"]["code"], "payload_too_large")
        # The connection was kept in step: the next upload works.
        status, _, ds = self.urlopen("/v1/datasets?name=small", b"a,b\n1,2\n", "text/csv")
        self.assertEqual((status, ds["rows"]), (201, 1))


class Crash(unittest.TestCase):
    def test_kill_during_upload_leaves_nothing(self):
        d = Daemon().start()
        try:
            body = b"a,b\n" + b"1,2\n" * 100000
            s = socket.create_connection(("127.0.0.1", d.port))
            s.sendall(b"POST /v1/datasets?name=half HTTP/1.1\r\nHost: t\r\n"
                      b"Content-Type: text/csv\r\nContent-Length: %d\r\n\r\n" % len(body))
            s.sendall(body[: len(body) // 2])
            time.sleep(0.3)
            d.kill()
            s.close()
            d.start()
            status, _, page = d.request("GET", "/v1/datasets")
            self.assertEqual((status, page["items"]), (200, []))
            self.assertEqual(os.listdir(os.path.join(d.state_dir, "tmp")), [])
            status, _, ds = d.upload("after", b"a\n1\n")
            self.assertEqual(status, 201)
        finally:
            d.cleanup()

    def test_sigterm_exits_zero_and_bad_flags_fail(self):
        d = Daemon().start()
        try:
            self.assertEqual(d.stop(signal.SIGTERM), 0)
        finally:
            d.cleanup()
        import subprocess
        from fitdtest import FITD
        for args in (["--listen", "nope"], ["--max-columns", "0"], ["--log-level", "loud"],
                     ["--bogus"], ["--config", "/nonexistent/fitd.conf"]):
            r = subprocess.run([FITD] + args, capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_sighup_reloads_the_log_level(self):
        import tempfile
        conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        conf.write("log-level = info\nmax-columns = 4096\n")
        conf.close()
        d = Daemon(args=("--config", conf.name)).start()

        def log_after(mark, needle, timeout=10):
            deadline = time.time() + timeout
            while time.time() < deadline:
                with open(d.log_path, "rb") as f:
                    text = f.read()[mark:].decode()
                if needle in text:
                    return text
                time.sleep(0.05)
            self.fail("no %r in the log" % needle)

        try:
            # GET requests are logged at debug level only.
            with open(conf.name, "w") as f:
                f.write("log-level = debug\nmax-columns = 100\n")
            mark = os.path.getsize(d.log_path)
            d.proc.send_signal(signal.SIGHUP)
            text = log_after(mark, "action=reload")
            self.assertIn("event=reloaded key=log-level old=info new=debug", text)
            self.assertIn('setting="max-columns = 100" running="max-columns = 4096"', text)
            # Only what changed: the node id, given by no one, is the same
            # (the fresh configuration had it unresolved, and said so).
            self.assertEqual(text.count("event=reload_needs_restart"), 1, text)
            self.assertEqual(d.request("GET", "/healthz")[0], 200)
            log_after(mark, 'event=request method=GET path="/healthz"')
            # A file that no longer parses changes nothing.
            with open(conf.name, "w") as f:
                f.write("log-level = loud\n")
            mark = os.path.getsize(d.log_path)
            d.proc.send_signal(signal.SIGHUP)
            log_after(mark, "event=reload_failed")
            self.assertEqual(d.request("GET", "/healthz")[0], 200)
            log_after(mark, 'event=request method=GET path="/healthz"')
        finally:
            d.cleanup()
            os.unlink(conf.name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
