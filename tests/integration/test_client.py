"""The command-line client (`fitd submit|status|watch|cancel|delete|alias|predict`)
against the real daemon: outputs, the progress bar on a terminal, JSON
modes, and the exit statuses scripts rely on."""

import http.server
import json
import os
import pty
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from fitdtest import FITD, DATA, Daemon, DaemonTest, wait_job

IRIS = os.path.join(DATA, "iris.csv")


def run(args, url=None, env=None, timeout=300, stdin=None):
    """Runs `fitd ARGS…` with FITD_URL=url (and the text stdin on its
    standard input); returns the CompletedProcess (text)."""
    e = {k: v for k, v in os.environ.items() if k not in ("FITD_URL", "FITD_TOKEN")}
    if url is not None:
        e["FITD_URL"] = url
    e.update(env or {})
    p = subprocess.run([FITD] + list(args), env=e, capture_output=True, text=True,
                       timeout=timeout, input=stdin)
    assert "Sanitizer" not in p.stderr, p.stderr  # the ASan build: no leak, no error
    return p


def run_tty(args, url, timeout=300):
    """Runs the client with a terminal as stdout; returns (exit status, output bytes)."""
    pid, fd = pty.fork()
    if pid == 0:
        env = dict(os.environ, FITD_URL=url)
        os.execve(FITD, [FITD] + list(args), env)
    out = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO once the child has closed the terminal
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert b"Sanitizer" not in out, out
    return os.waitstatus_to_exitcode(status), out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client(DaemonTest):
    def setUp(self):
        super().setUp()
        self.url = "http://127.0.0.1:%d" % self.d.port

    def fitd(self, *args, **kw):
        return run(args, url=self.url, **kw)

    def submit(self, *extra):
        p = self.fitd("submit", IRIS, "--target", "species", *extra)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def job(self, job_id):
        status, _, job = self.d.request("GET", "/v1/jobs/" + job_id)
        self.assertEqual(status, 200, job)
        return job

    def test_submit_prints_the_id_of_a_stored_job_with_the_flags(self):
        p = self.submit("--max-trials", "3", "--seed", "7", "--models", "logistic,svm",
                        "--validation", "holdout:0.25", "--metric", "balanced_accuracy",
                        "--exclude", "sepal_width", "--algorithm", "random")
        job_id = p.stdout.strip()
        self.assertRegex(job_id, r"^job_[0-9a-f]{20}$")
        spec = self.job(job_id)["spec"]
        self.assertEqual(spec["target"], "species")
        self.assertEqual(spec["search"]["max_trials"], 3)
        self.assertEqual(spec["search"]["seed"], 7)
        self.assertEqual(spec["search"]["algorithm"], "random")
        self.assertEqual(spec["space"]["models"], ["logistic", "svm"])
        self.assertEqual(spec["validation"], {"method": "holdout", "fraction": 0.25})
        self.assertEqual(spec["metric"], "balanced_accuracy")
        self.assertEqual(spec["exclude_columns"], ["sepal_width"])
        status, _, ds = self.d.request("GET", "/v1/datasets/" + spec["dataset"])
        self.assertEqual((status, ds["name"], ds["rows"]), (200, "iris", 150))
        # A time budget with a fraction, as the API takes it (it was a bad value).
        p = self.submit("--max-seconds", "2.5", "--models", "logistic")
        self.assertEqual(self.job(p.stdout.strip())["spec"]["search"]["max_seconds"], 2.5)

    def test_spec_file_is_completed_and_flags_override_it(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"target": "species", "search": {"max_trials": 9, "seed": 3},
                       "validation": {"method": "cv", "folds": 3}}, f)
        try:
            p = self.fitd("submit", IRIS, "--spec", f.name, "--max-trials", "2")
        finally:
            os.unlink(f.name)
        self.assertEqual(p.returncode, 0, p.stderr)
        spec = self.job(p.stdout.strip())["spec"]
        self.assertEqual((spec["target"], spec["search"]["max_trials"], spec["search"]["seed"]),
                         ("species", 2, 3))
        self.assertEqual(spec["validation"]["folds"], 3)

    def test_follow_prints_events_then_the_leaderboard_and_a_usable_model(self):
        p = self.fitd("submit", IRIS, "--target", "species", "--max-trials", "5", "--follow")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        job_id = lines[0]
        self.assertNotIn("\r", p.stdout)  # not a terminal: plain lines
        self.assertIn("job %s running" % job_id, lines)
        self.assertIn("trial 0 started: logistic lbfgs", lines)
        self.assertTrue(any(l.startswith("trial 0 completed: accuracy 0.") for l in lines), lines)
        self.assertTrue(any(l.startswith("new best: trial ") for l in lines), lines)
        self.assertIn("job %s succeeded" % job_id, lines)
        header = lines.index(next(l for l in lines if l.startswith("RANK")))
        self.assertEqual(lines[header].split(), ["RANK", "TRIAL", "STATE", "SCORE", "STD",
                                                 "MODEL", "OPTIMIZER", "EPOCHS", "MS"])
        rows = [l.split() for l in lines[header + 1:header + 6]]
        _, _, board = self.d.request("GET", "/v1/jobs/%s/trials" % job_id)
        self.assertEqual([int(r[1]) for r in rows], [t["trial"] for t in board["items"]])
        self.assertEqual(rows[0][3], "%.4f" % board["items"][0]["score"])
        # aligned: every row's STATE column starts where the header's does
        col = lines[header].index("STATE")
        for l in lines[header + 1:header + 6]:
            self.assertEqual(l[col - 2:col], "  ", l)
            self.assertNotEqual(l[col], " ", l)
        model = lines[-1].split("best model: ")[1]
        self.assertEqual(model, self.job(job_id)["best"]["model_id"])
        status, _, doc = self.d.request("GET", "/v1/models/" + model)
        self.assertEqual(status, 200, doc)

    def test_follow_on_a_terminal_redraws_one_line(self):
        code, out = run_tty(["submit", IRIS, "--target", "species", "--max-trials", "5",
                             "--follow"], self.url)
        text = out.decode()
        self.assertEqual(code, 0, text)
        self.assertGreater(text.count("\r["), 5, text)  # the bar is redrawn in place
        self.assertIn("5/5 trials", text)
        job_id = text.split()[0]
        best = self.job(job_id)["best"]["score"]
        self.assertIn("best accuracy %.4f" % best, text)
        self.assertIn("[" + "#" * 30 + "]", text)  # full at the end
        self.assertIn("best model: mdl_", text)

    def test_follow_on_a_terminal_shows_time_over_the_time_budget(self):
        code, out = run_tty(["submit", IRIS, "--target", "species", "--max-seconds", "3",
                             "--follow"], self.url)
        text = out.decode()
        self.assertEqual(code, 0, text)
        self.assertIn("/3 s", text)
        self.assertNotIn("/50 trials", text)  # no trial budget: the count alone
        self.assertIn("best accuracy 0.", text)

    def test_json_outputs_parse(self):
        p = self.fitd("submit", IRIS, "--target", "species", "--max-trials", "2", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        job = json.loads(p.stdout)
        self.assertEqual(job["target"], "species")
        p = self.fitd("submit", IRIS, "--target", "species", "--max-trials", "3", "--follow",
                      "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        docs = [json.loads(l) for l in p.stdout.splitlines()]
        events = [d for d in docs[1:-1]]
        self.assertEqual(events[0]["event"], "job_state")
        self.assertEqual(events[-1]["data"]["state"], "succeeded")
        self.assertEqual([int(e["id"]) for e in events], sorted(int(e["id"]) for e in events))
        self.assertEqual(docs[-1]["job"]["state"], "succeeded")
        self.assertEqual(len(docs[-1]["leaderboard"]), 3)
        p = self.fitd("status", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(json.loads(p.stdout)["items"]), 2)
        p = self.fitd("status", job["id"], "--json")
        self.assertEqual(json.loads(p.stdout)["id"], job["id"])
        p = self.fitd("watch", job["id"], "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        for line in p.stdout.splitlines():
            json.loads(line)

    def test_status_lists_jobs_and_shows_one(self):
        a = self.submit("--max-trials", "2").stdout.strip()
        b = self.submit("--max-trials", "2").stdout.strip()
        wait_job(self.d, a, states=("succeeded",))
        wait_job(self.d, b, states=("succeeded",))
        p = self.fitd("status")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["JOB", "STATE", "TARGET", "METRIC", "TRIALS", "BEST",
                                            "CREATED"])
        self.assertEqual([l.split()[:5] for l in lines[1:]],
                         [[a, "succeeded", "species", "accuracy", "2/2"],
                          [b, "succeeded", "species", "accuracy", "2/2"]])
        p = self.fitd("status", a)
        self.assertEqual(p.returncode, 0, p.stderr)
        job = self.job(a)
        fields = dict(l.split(None, 1) for l in p.stdout.splitlines())
        self.assertEqual(fields["state"], "succeeded")
        self.assertEqual(fields["model"], job["best"]["model_id"])
        self.assertTrue(fields["progress"].startswith("2/2 trials"), fields)
        self.assertTrue(fields["best"].startswith("%.4f" % job["best"]["score"]), fields)
        self.assertEqual(fields["error"], "-")

    def test_watch_of_a_finished_job(self):
        job_id = self.submit("--max-trials", "3").stdout.strip()
        job = wait_job(self.d, job_id, states=("succeeded",))
        p = self.fitd("watch", job_id)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], "job %s queued" % job_id)
        self.assertEqual(sum(l.startswith("trial ") and " started: " in l for l in lines), 3)
        self.assertEqual(lines[-1], "best model: " + job["best"]["model_id"])

    def test_cancel_of_a_running_job(self):
        job_id = self.submit("--max-seconds", "300", "--models", "mlp").stdout.strip()
        wait_job(self.d, job_id, states=("running",))
        p = self.fitd("cancel", job_id)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "%s: cancel requested" % job_id)
        p = self.fitd("watch", job_id)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("job %s cancelled" % job_id, p.stdout.splitlines())
        self.assertEqual(self.job(job_id)["state"], "cancelled")
        p = self.fitd("cancel", job_id)  # 409 job_finished
        self.assertEqual(p.returncode, 4)
        self.assertIn("job_finished", p.stderr)

    def test_predict_by_id_equals_offline_predict_by_file(self):
        job_id = self.submit("--max-trials", "3").stdout.strip()
        model = wait_job(self.d, job_id, states=("succeeded",))["best"]["model_id"]
        _, _, doc = self.d.request("GET", "/v1/models/" + model)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(doc, f)
        try:
            for fmt in ([], ["--format", "json"]):
                online = self.fitd("predict", "--model", model, "--input", IRIS, *fmt)
                offline = run(["predict", "--model", f.name, "--input", IRIS] + fmt)
                self.assertEqual(online.returncode, 0, online.stderr)
                self.assertEqual(offline.returncode, 0, offline.stderr)
                self.assertEqual(online.stdout, offline.stdout)
            self.assertEqual(len(online.stdout.splitlines()), 1)
            self.assertEqual(len(json.loads(online.stdout)["predictions"]), 150)
            self.assertEqual(self.fitd("predict", "--model", model, "--input", IRIS,
                                       "--json").stdout, online.stdout)
        finally:
            os.unlink(f.name)
        p = self.fitd("predict", "--model", "mdl_" + "0" * 20, "--input", IRIS)
        self.assertEqual(p.returncode, 4)
        self.assertIn("model_not_found", p.stderr)

    def test_tables_read_from_a_pipe(self):
        # A table on standard input (or a process substitution) has no size
        # up front: it was sent as an empty body (400 empty_body) and read
        # offline as an empty file.
        with open(IRIS) as f:
            table = f.read()
        p = self.fitd("submit", "/dev/stdin", "--target", "species", "--max-trials", "1",
                      stdin=table)
        self.assertEqual(p.returncode, 0, p.stderr)
        job = wait_job(self.d, p.stdout.strip(), states=("succeeded",))
        _, _, ds = self.d.request("GET", "/v1/datasets/" + job["dataset"])
        self.assertEqual(ds["rows"], 150)
        model = job["best"]["model_id"]
        _, _, doc = self.d.request("GET", "/v1/models/" + model)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(doc, f)
        try:
            by_file = self.fitd("predict", "--model", model, "--input", IRIS)
            self.assertEqual(by_file.returncode, 0, by_file.stderr)
            for m in (model, f.name):
                piped = self.fitd("predict", "--model", m, "--input", "/dev/stdin", stdin=table)
                self.assertEqual(piped.returncode, 0, piped.stderr)
                self.assertEqual(piped.stdout, by_file.stdout)
        finally:
            os.unlink(f.name)
        # A directory is named as one, not taken for an empty table.
        p = self.fitd("predict", "--model", model, "--input", DATA)
        self.assertEqual(p.returncode, 2)
        self.assertIn("Is a directory", p.stderr)

    def test_dataset_named_after_any_file_name(self):
        # A file name the daemon would not take as a name (not UTF-8, a
        # control character) was sent as it was: 400 invalid_name about a
        # ?name= the user never gave.
        with open(IRIS, "rb") as f:
            table = f.read()
        with tempfile.TemporaryDirectory() as tmp:
            for raw, want in ((b"caf\xe9 x\ty.csv", "caf x_y"), (b"\xff\xfe.csv", "table")):
                path = os.path.join(os.fsencode(tmp), raw)
                with open(path, "wb") as f:
                    f.write(table)
                p = self.fitd("submit", os.fsdecode(path), "--target", "species",
                              "--max-trials", "1")
                self.assertEqual(p.returncode, 0, p.stderr)
                ds = self.job(p.stdout.strip())["dataset"]
                _, _, got = self.d.request("GET", "/v1/datasets/" + ds)
                self.assertEqual((got["name"], got["rows"]), (want, 150))

    def test_delete_and_aliases(self):
        job_id = self.submit("--max-trials", "2", "--models", "logistic").stdout.strip()
        model = wait_job(self.d, job_id, states=("succeeded",))["best"]["model_id"]
        status, _, slow = self.d.request("POST", "/v1/jobs", body={
            "dataset": self.job(job_id)["dataset"], "target": "species", "early_stopping": False,
            "space": {"models": ["mlp"], "optimizer": ["sgd"], "epochs": 100000,
                      "learning_rate": [0.0001], "batch_size": [16]},
            "search": {"max_trials": 1}})
        self.assertEqual(status, 201, slow)
        p = self.fitd("delete", slow["id"])
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("job_not_finished", p.stderr)
        self.assertEqual(self.d.request("POST", "/v1/jobs/%s/cancel" % slow["id"])[0], 202)
        p = self.fitd("alias", "prod", model)
        self.assertEqual((p.returncode, p.stdout), (0, "prod -> %s (was none)\n" % model))
        p = self.fitd("alias")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines()[0].split(), ["ALIAS", "MODEL", "UPDATED"])
        self.assertEqual(p.stdout.splitlines()[1].split()[:2], ["prod", model])
        p = self.fitd("alias", "--json")
        self.assertEqual([a["name"] for a in json.loads(p.stdout)["items"]], ["prod"])
        p = self.fitd("alias", "prod")
        self.assertTrue(p.stdout.startswith("prod -> %s (since " % model), p.stdout)
        p = self.fitd("delete", job_id)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^%s: deleted with \d+ model\(s\); kept for an alias: %s\n$"
                         % (job_id, model))
        self.assertEqual(self.d.request("GET", "/v1/jobs/" + job_id)[0], 404)
        self.assertEqual(self.fitd("delete", job_id).returncode, 4)
        p = self.fitd("alias", "prod", "--delete")
        self.assertEqual((p.returncode, p.stdout), (0, "prod: deleted (it pointed at %s)\n" % model))
        self.assertEqual(self.d.request("GET", "/v1/models/" + model)[0], 404)
        p = self.fitd("alias", "Prod")
        self.assertEqual(p.returncode, 4)
        self.assertIn("invalid_name", p.stderr)
        for args in (["alias", "a", "b", "c"], ["alias", "--delete"], ["alias", "a", "b",
                                                                       "--delete"],
                     ["delete"], ["delete", "a", "b"]):
            self.assertEqual(self.fitd(*args).returncode, 2, args)

    def test_exit_statuses(self):
        for args in (["submit", IRIS], ["submit"], ["status", "a", "b"], ["watch"],
                     ["cancel", "--bogus", "x"], ["submit", IRIS, "--target", "y",
                                                  "--validation", "cv"],
                     ["submit", IRIS, "--target", "y", "--max-trials", "many"],
                     ["submit", "/nonexistent.csv", "--target", "y"]):
            p = self.fitd(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
        # fitd predict says what is wrong in one line (it printed its whole usage).
        for args, says in ((["--model", "m.json"], "give --model FILE|ID and --input"),
                           (["--model", "m.json", "--input", IRIS, "--format", "xml"],
                            "--format must be csv or json, not 'xml'"),
                           (["--model", "m.json", "--input", IRIS, "extra"],
                            "unexpected argument 'extra'")):
            p = self.fitd("predict", *args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(says, p.stderr)
            self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
        for sub in ("submit", "status", "watch", "cancel", "delete", "alias", "predict"):
            p = self.fitd(sub, "--help")
            self.assertEqual(p.returncode, 0, sub)
            self.assertIn("usage: fitd " + sub, p.stdout)
            self.assertIn("5 authentication refused", p.stdout)
        closed = "http://127.0.0.1:%d" % free_port()
        for args in (["status"], ["watch", "job_" + "0" * 20], ["submit", IRIS, "--target", "y"]):
            p = run(args, url=closed)
            self.assertEqual(p.returncode, 3, (args, p.stderr))
            self.assertIn("cannot reach the daemon", p.stderr)
        p = self.fitd("watch", "job_" + "0" * 20)
        self.assertEqual(p.returncode, 4)
        self.assertIn("job_not_found", p.stderr)
        p = self.fitd("status", "job_" + "0" * 20)
        self.assertEqual(p.returncode, 4)
        self.assertIn("job_not_found", p.stderr)
        self.assertIn("HTTP 404", p.stderr)
        _, _, before = self.d.request("GET", "/v1/datasets?limit=1000")
        p = self.fitd("submit", IRIS, "--target", "no_such_column")
        self.assertEqual(p.returncode, 4)
        self.assertIn("unknown_column", p.stderr)
        # The table it uploaded for the refused job is deleted again.
        _, _, after = self.d.request("GET", "/v1/datasets?limit=1000")
        self.assertEqual(after["items"], before["items"])

    def test_url_flag_and_environment(self):
        closed = "http://127.0.0.1:%d" % free_port()
        self.assertEqual(run(["status"], url=self.url).returncode, 0)
        self.assertEqual(run(["status"], url=closed).returncode, 3)
        p = run(["status", "--url", self.url + "/"], url=closed)  # the flag wins
        self.assertEqual(p.returncode, 0, p.stderr)


class FailingJob(DaemonTest):
    """Every trial is over the memory budget, so the job fails."""
    daemon_args = ("--trial-memory-mib", "8")

    def test_follow_of_a_failed_job_exits_1(self):
        url = "http://127.0.0.1:%d" % self.d.port
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"space": {"models": ["mlp"], "optimizer": ["adam"],
                                 "mlp": {"hidden_layers": [2], "units": [512]}},
                       "search": {"max_trials": 2}}, f)
        try:
            p = run(["submit", os.path.join(DATA, "digits.csv"), "--target", "digit",
                     "--spec", f.name, "--follow"], url=url)
        finally:
            os.unlink(f.name)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("no_trial_completed", p.stderr)
        self.assertIn("trial 0 failed: memory_limit", p.stdout)
        self.assertEqual(p.stdout.splitlines()[-1], "best model: none")


class Resume(unittest.TestCase):
    def test_watch_resumes_after_the_daemon_restarts(self):
        port = free_port()
        url = "http://127.0.0.1:%d" % port
        d = Daemon(args=("--listen", "127.0.0.1:%d" % port, "--worker-threads", "1")).start()
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"space": {"models": ["logistic"], "optimizer": ["adam"], "epochs": 400},
                       "early_stopping": False,
                       "search": {"algorithm": "random", "max_trials": 6, "seed": 5}}, f)
        try:
            p = run(["submit", IRIS, "--target", "species", "--spec", f.name], url=url)
            self.assertEqual(p.returncode, 0, p.stderr)
            job_id = p.stdout.strip()
            w = subprocess.Popen([FITD, "watch", job_id, "--json"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 env=dict(os.environ, FITD_URL=url))
            first = []
            while not any(e["event"] == "trial_started" for e in first):
                first.append(json.loads(w.stdout.readline()))
            d.kill()
            d.start()
            out, err = w.communicate(timeout=600)
            self.assertEqual(w.returncode, 0, err)
            lines = [json.loads(l) for l in out.splitlines()]
            events, final = first + lines[:-1], lines[-1]
            ids = [int(e["id"]) for e in events]
            self.assertEqual(ids, sorted(set(ids)), "ids must increase without duplicates")
            self.assertEqual(events[-1]["data"]["state"], "succeeded")
            self.assertEqual(final["job"]["state"], "succeeded")
            # the stream after the restart went on from the last event seen
            self.assertGreater(len(events), len(first))
            self.assertEqual(ids[:len(first)], [int(e["id"]) for e in first])
        finally:
            os.unlink(f.name)
            d.cleanup()


class Capture(http.server.BaseHTTPRequestHandler):
    """Records each request's Authorization header; answers as told."""
    seen = []
    status = 200
    body = b'{"items":[],"next_after":null}'

    def do_GET(self):
        Capture.seen.append(self.headers.get("Authorization"))
        self.send_response(Capture.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(Capture.body)))
        self.end_headers()
        self.wfile.write(Capture.body)

    def log_message(self, *args):
        pass


class Token(unittest.TestCase):
    def setUp(self):
        Capture.seen = []
        Capture.status, Capture.body = 200, b'{"items":[],"next_after":null}'
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def tearDown(self):
        self.srv.shutdown()
        self.srv.server_close()

    def test_token_is_sent_as_bearer(self):
        self.assertEqual(run(["status", "--token", "s3cret"], url=self.url).returncode, 0)
        self.assertEqual(run(["status"], url=self.url, env={"FITD_TOKEN": "fromenv"}).returncode,
                         0)
        self.assertEqual(run(["status", "--token", "flag"], url=self.url,
                             env={"FITD_TOKEN": "fromenv"}).returncode, 0)
        self.assertEqual(run(["status"], url=self.url).returncode, 0)
        self.assertEqual(Capture.seen, ["Bearer s3cret", "Bearer fromenv", "Bearer flag", None])

    def test_refused_token_exits_5(self):
        for status, code in ((401, "unauthorized"), (403, "insufficient_scope")):
            Capture.status = status
            Capture.body = json.dumps({"error": {"code": code, "message": "no"}}).encode()
            p = run(["status", "--token", "bad"], url=self.url)
            self.assertEqual(p.returncode, 5, p.stderr)
            self.assertIn(code, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
