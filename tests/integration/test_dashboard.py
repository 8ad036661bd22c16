"""The dashboard's routes over HTTP (api/dash.c, GET /v1/whoami): headers,
gzip, ETag and 304, unknown files, query parameters, and the scopes
whoami reports with and without a token file. The page itself runs in a
browser in tests/browser/ (browser-dashboard); this test also runs under
the sanitizers."""

import gzip
import os
import tempfile
import unittest

from fitdtest import Daemon, DaemonTest, write_tokens

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
         "app.css": "text/css; charset=utf-8", "icon.svg": "image/svg+xml"}


def source(name):
    with open(os.path.join(ROOT, "api", "dash", name), "rb") as f:
        return f.read()


class Files(DaemonTest):
    def test_every_file_is_served_byte_for_byte_with_its_headers(self):
        etags = set()
        for name, ctype in FILES.items():
            status, h, body = self.d.request("GET", "/dash/" + name)
            self.assertEqual(status, 200, name)
            self.assertEqual(body, source(name), name)
            self.assertEqual(h["content-type"], ctype)
            self.assertTrue(h["content-security-policy"].startswith("default-src 'self';"), h)
            self.assertIn("frame-ancestors 'none'", h["content-security-policy"])
            self.assertEqual(h["cache-control"], "no-cache")
            self.assertEqual(h["x-content-type-options"], "nosniff")
            self.assertEqual(h["vary"], "Accept-Encoding")
            self.assertNotIn("content-encoding", h)
            self.assertRegex(h["etag"], r'^"[0-9a-f]{16}"$')
            etags.add(h["etag"])
        self.assertEqual(len(etags), len(FILES))
        status, h, body = self.d.request("GET", "/")
        self.assertEqual((status, body, h["content-type"]), (200, source("index.html"), FILES["index.html"]))

    def test_page_has_no_inline_script_or_style(self):
        page = source("index.html").decode()
        self.assertNotRegex(page, r"<script(?![^>]*\bsrc=)")
        self.assertNotIn("<style", page)
        self.assertNotIn(" style=", page)
        self.assertNotRegex(page, r" on[a-z]+=")
        self.assertNotIn("innerHTML", source("app.js").decode())

    def test_gzip_when_accepted(self):
        for accept in ("gzip", "deflate, gzip;q=0.5", "br, *", "GZIP"):
            status, h, body = self.d.request("GET", "/dash/app.js", headers={"Accept-Encoding": accept})
            self.assertEqual((status, h.get("content-encoding")), (200, "gzip"), accept)
            self.assertEqual(gzip.decompress(body), source("app.js"), accept)
            self.assertLess(len(body), len(source("app.js")) / 2)
        for accept in ("identity", "gzip;q=0", "gzip; q=0.0, deflate", "*;q=0", "br"):
            status, h, body = self.d.request("GET", "/dash/app.js", headers={"Accept-Encoding": accept})
            self.assertEqual((status, h.get("content-encoding"), body), (200, None, source("app.js")),
                             accept)

    def test_if_none_match_answers_304(self):
        _, h, _ = self.d.request("GET", "/")
        etag = h["etag"]
        for inm in (etag, "W/" + etag, '"x", ' + etag, "*"):
            status, h2, body = self.d.request("GET", "/", headers={"If-None-Match": inm})
            self.assertEqual((status, body, h2["etag"]), (304, b"", etag), inm)
        for inm in ('"x"', etag[:-2] + '"', '"' + etag):
            status, _, body = self.d.request("GET", "/", headers={"If-None-Match": inm})
            self.assertEqual((status, body), (200, source("index.html")), inm)

    def test_unknown_file_query_and_method(self):
        self.assertError(self.d.request("GET", "/dash/nope.js"), 404, "not_found")
        self.assertError(self.d.request("GET", "/dash/..%2Fopenapi.json"), 404, "not_found")
        self.assertError(self.d.request("GET", "/dash/"), 404, "not_found")
        self.assertError(self.d.request("GET", "/?a=b"), 400, "unknown_parameter")
        self.assertError(self.d.request("POST", "/", body=b""), 405, "method_not_allowed")

    def test_whoami_without_a_token_file(self):
        status, _, body = self.d.request("GET", "/v1/whoami")
        self.assertEqual(status, 200)
        self.assertEqual(body, {"token": None, "scopes": ["read", "write", "admin"],
                                "tokens_required": False})


class Tokens(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fitd-dash-")
        path = write_tokens(os.path.join(self.tmp, "tokens"),
                            {"viewer": ("ro-secret", "read"), "ci": ("rw-secret", "read,write"),
                             "ops": ("admin-secret", "admin")})
        self.d = Daemon(args=["--token-file", path]).start()

    def tearDown(self):
        self.d.cleanup()
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    def whoami(self, token):
        hdrs = {"Authorization": "Bearer " + token} if token else {}
        return self.d.request("GET", "/v1/whoami", headers=hdrs)

    def test_the_page_is_open_and_whoami_tells_the_scopes(self):
        status, _, body = self.d.request("GET", "/")
        self.assertEqual((status, body), (200, source("index.html")))
        self.assertEqual(self.whoami("ro-secret")[2],
                         {"token": "viewer", "scopes": ["read"], "tokens_required": True})
        self.assertEqual(self.whoami("rw-secret")[2],
                         {"token": "ci", "scopes": ["read", "write"], "tokens_required": True})
        status, h, body = self.whoami(None)
        self.assertEqual((status, body["error"]["code"]), (401, "unauthorized"))
        self.assertEqual(h["www-authenticate"], 'Bearer realm="fitd"')
        self.assertEqual(self.whoami("wrong")[0], 401)
        status, _, body = self.whoami("admin-secret")  # admin alone has no read
        self.assertEqual((status, body["error"]["code"]), (403, "insufficient_scope"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
