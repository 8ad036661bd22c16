"""The daemon on PostgreSQL (--store postgresql://...), beside the private
server tests/pg/pgserver.sh starts (FITD_TEST_STORE): upload, a search,
its model and predictions over HTTP; the event stream; the same leaderboard
as on SQLite for the same spec, data and seed; a second daemon with an empty
state directory on the same database finds everything, its dataset file
fetched from the database; the store's connections terminated by the
server (pg_terminate_backend) are opened again, also when the new ones are
lost while being set up; a job resumes after kill -9.

Each test makes a database of its own on the server."""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from fitdtest import Daemon, read_data, upload_table, submit_job, wait_job
from test_jobs import read_events

STORE = os.environ.get("FITD_TEST_STORE", "")
PSQL = os.path.join(os.environ.get("FITD_PG_BIN", "/usr/lib/postgresql/15/bin"), "psql")

SPEC = {
    "target": "species",
    "space": {"models": ["logistic"], "optimizer": ["adam"], "epochs": 60},
    "early_stopping": False,
    "validation": {"method": "cv", "folds": 3},
    "search": {"algorithm": "random", "max_trials": 5, "seed": 7},
}


def psql(uri, sql):
    """Runs sql on uri; the rows as a list of '|'-joined lines."""
    p = subprocess.run([PSQL, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", uri, "-c", sql],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [line for line in p.stdout.splitlines() if line]


def new_database():
    """A fresh database on the test server; its URI."""
    name = "fitd_" + uuid.uuid4().hex[:12]
    psql(STORE, "CREATE DATABASE " + name)
    return STORE.rsplit("/", 1)[0] + "/" + name


def board(d, job_id):
    status, _, page = d.request("GET", "/v1/jobs/%s/trials?limit=1000" % job_id)
    assert status == 200, page
    return [(t["trial"], t["state"], t["score"], t["params"]) for t in page["items"]]


def stop_cleanly(test, daemons):
    """Stops every daemon that still runs (SIGTERM) and asserts for each an
    exit status of 0 and no sanitizer's report in its log (the ASan build:
    no leak, no error); cleans every one up whatever happens."""
    try:
        for d in daemons:
            rc = d.stop() if d.proc is not None else 0
            with open(d.log_path, "rb") as f:
                log = f.read()
            test.assertEqual(rc, 0, log[-3000:].decode("utf-8", "replace"))
            test.assertNotIn(b"Sanitizer", log)
    finally:
        for d in daemons:
            d.cleanup()


class SetupCutter:
    """A TCP proxy to the test server that, while cutting is set, closes
    each connection whose client sends SET TIME ZONE (the first thing the
    store sends on a new connection, once it is open): connections lost
    while they are being set up. cuts counts them."""

    def __init__(self, target_port):
        self.target = target_port
        self.cutting = threading.Event()
        self.cuts = 0
        self.socks = []
        self.lock = threading.Lock()
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.socks += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False),
                             daemon=True).start()

    def _pump(self, src, dst, from_client):
        tail = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                tail = (tail + data)[-4096:]
                if from_client and self.cutting.is_set() and b"SET TIME ZONE" in tail:
                    with self.lock:
                        self.cuts += 1
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.server.close()
        with self.lock:
            for sock in self.socks:
                sock.close()


@unittest.skipUnless(STORE, "FITD_TEST_STORE is not set: run under tests/pg/pgserver.sh")
class PostgresStore(unittest.TestCase):
    def setUp(self):
        self.uri = new_database()
        self.daemons = []

    def tearDown(self):
        stop_cleanly(self, self.daemons)

    def daemon(self, state_dir=None, store=True, uri=None):
        args = ["--worker-threads", "2"] + (["--store", uri or self.uri] if store else [])
        d = Daemon(state_dir=state_dir, args=args)
        self.daemons.append(d)
        return d.start()

    def test_upload_job_model_predict(self):
        d = self.daemon()
        ds = upload_table(d, "iris")
        # Nothing of it is in the state directory: the file is in the database.
        self.assertFalse(os.path.exists(os.path.join(d.state_dir, "fitd.db")))
        self.assertEqual(psql(self.uri, "SELECT count(*) > 0 FROM dataset_chunks"), ["t"])
        job_id = submit_job(d, dict(SPEC, dataset=ds))
        job = wait_job(d, job_id)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["progress"]["trials_done"], 5)
        model_id = job["best"]["model_id"]
        self.assertIsNotNone(model_id)
        # The trials' out-of-fold predictions, which the ensemble step reads, are rows.
        self.assertEqual(psql(self.uri, "SELECT count(*) > 0 FROM trial_oof WHERE job_id = '%s'"
                              % job_id), ["t"])
        self.assertFalse(os.path.exists(os.path.join(d.state_dir, "oof", job_id)))
        status, _, model = d.request("GET", "/v1/models/" + model_id)
        self.assertEqual(status, 200, model)
        rows = [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
                 "petal_width": 0.2},
                {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2,
                 "petal_width": 2.3}]
        status, _, pred = d.request("POST", "/v1/models/%s/predict" % model_id,
                                    body={"rows": rows})
        self.assertEqual(status, 200, pred)
        self.assertEqual(pred["predictions"], ["setosa", "virginica"])
        # The event stream: ids from 1 without a gap, from queued to succeeded.
        events = read_events(d.port, job_id)
        self.assertEqual([e[0] for e in events], list(range(1, len(events) + 1)))
        self.assertEqual(events[0][2]["state"], "queued")
        self.assertEqual(events[-1][2]["state"], "succeeded")
        self.assertEqual(psql(self.uri, "SELECT last FROM event_counters WHERE job_id = '%s'"
                              % job_id), [str(len(events))])
        # Errors keep their statuses: an unknown job, a dataset in use is fine once done.
        status, _, body = d.request("GET", "/v1/jobs/job_00000000000000000000")
        self.assertEqual(status, 404, body)
        self.assertEqual(body["error"]["code"], "job_not_found")

        # A second daemon with an empty state directory (another node, a lost
        # disk) on the same database answers for all of it, and trains on the
        # dataset, whose file it fetches from the database into its cache.
        d.stop()
        other = self.daemon()
        status, _, again = other.request("GET", "/v1/jobs/" + job_id)
        self.assertEqual(status, 200, again)
        self.assertEqual(again["best"]["model_id"], model_id)
        status, _, pred2 = other.request("POST", "/v1/models/%s/predict" % model_id,
                                         body={"rows": rows})
        self.assertEqual((status, pred2["predictions"]), (200, pred["predictions"]))
        job2 = wait_job(other, submit_job(other, dict(SPEC, dataset=ds)))
        self.assertEqual(job2["state"], "succeeded", job2)
        cache = os.listdir(os.path.join(other.state_dir, "cache"))
        self.assertEqual(len([f for f in cache if not f.startswith(".")]), 1, cache)
        # The same spec, data and seed give the same leaderboard.
        self.assertEqual(board(other, job2["id"]), board(other, job_id))

    def test_same_leaderboard_as_sqlite(self):
        boards = []
        for store in (False, True):
            d = self.daemon(store=store)
            ds = upload_table(d, "iris")
            job = wait_job(d, submit_job(d, dict(SPEC, dataset=ds)))
            self.assertEqual(job["state"], "succeeded", job)
            boards.append(board(d, job["id"]))
            d.stop()
        self.assertEqual(boards[0], boards[1])

    def test_terminated_connections_are_opened_again(self):
        d = self.daemon()
        ds = upload_table(d, "iris")
        killed = psql(self.uri, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                      " WHERE application_name = 'fitd' AND pid <> pg_backend_pid()")
        self.assertGreater(int(killed[0]), 0)
        # Every request after it is answered as before (reads and a write).
        for _ in range(3):
            status, _, got = d.request("GET", "/v1/datasets/" + ds)
            self.assertEqual(status, 200, got)
        job = wait_job(d, submit_job(d, dict(SPEC, dataset=ds)))
        self.assertEqual(job["state"], "succeeded", job)
        with open(d.log_path, "rb") as f:
            self.assertIn(b"event=store_reconnected", f.read())

    def test_connection_lost_while_set_up(self):
        """Connections lost while the store sets them up (a network that
        keeps failing, a server still going down) are not handed out dead:
        the store opens another after its back-off. A request that finds its
        connection terminated, whose next connections are all cut during
        their setting up for half a second, is answered after it."""
        cutter = SetupCutter(int(os.environ["FITD_TEST_PG_PORT"]))
        self.addCleanup(cutter.close)
        d = self.daemon(uri="postgresql://fitd@127.0.0.1:%d/%s" % (
            cutter.port, self.uri.rsplit("/", 1)[1]))
        ds = upload_table(d, "iris")
        cutter.cutting.set()
        # The timeout makes each termination wait until the backend has gone.
        killed = psql(self.uri, "SELECT count(pg_terminate_backend(pid, 5000))"
                      " FROM pg_stat_activity WHERE application_name = 'fitd'"
                      " AND datname = current_database()")
        self.assertGreater(int(killed[0]), 0)
        timer = threading.Timer(0.5, cutter.cutting.clear)
        timer.start()
        self.addCleanup(timer.cancel)
        status, _, got = d.request("GET", "/v1/datasets/" + ds)
        self.assertEqual(status, 200, got)
        self.assertGreater(cutter.cuts, 0)
        with open(d.log_path, "rb") as f:
            self.assertIn(b"event=store_reconnected", f.read())

    def test_server_restart(self):
        """PostgreSQL restarted (-m immediate) under an idle daemon: the
        requests after it are answered, on connections opened again."""
        data = os.path.join(os.environ["FITD_TEST_PG_DIR"], "data")
        d = self.daemon()
        ds = upload_table(d, "iris")
        as_user = ["runuser", "-u", "nobody", "--"] if os.getuid() == 0 else []
        # The server outlives pg_ctl: its output goes to the log, not to a pipe.
        subprocess.run(as_user + [os.path.join(os.path.dirname(PSQL), "pg_ctl"), "-D", data,
                                  "-l", os.path.join(data, "..", "server.log"),
                                  "-m", "immediate", "-w", "restart"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)
        status, _, got = d.request("GET", "/v1/datasets/" + ds)
        self.assertEqual(status, 200, got)
        job = wait_job(d, submit_job(d, dict(SPEC, dataset=ds)))
        self.assertEqual(job["state"], "succeeded", job)

    def test_server_down_answers_503(self):
        """With PostgreSQL stopped, a request that needs it answers 503
        unavailable (a JSON error) once the reconnect back-off gives up,
        /healthz still answers at once, and all is well once it is back."""
        data = os.path.join(os.environ["FITD_TEST_PG_DIR"], "data")
        pg_ctl = os.path.join(os.path.dirname(PSQL), "pg_ctl")
        as_user = ["runuser", "-u", "nobody", "--"] if os.getuid() == 0 else []
        d = self.daemon()
        ds = upload_table(d, "iris")
        subprocess.run(as_user + [pg_ctl, "-D", data, "-m", "fast", "-w", "stop"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        try:
            t0 = time.time()
            status, _, body = d.request("GET", "/v1/datasets/" + ds)
            self.assertEqual(status, 503, body)
            self.assertEqual(body["error"]["code"], "unavailable", body)
            self.assertLess(time.time() - t0, 15)
            t0 = time.time()
            self.assertEqual(d.request("GET", "/healthz")[0], 200)
            self.assertLess(time.time() - t0, 1)
        finally:
            opts = "-h 127.0.0.1 -p %s -k %s -F -c max_connections=200" % (
                os.environ["FITD_TEST_PG_PORT"], os.environ["FITD_TEST_PG_DIR"])
            subprocess.run(as_user + [pg_ctl, "-D", data, "-l",
                                      os.path.join(data, "..", "server.log"), "-o", opts,
                                      "-w", "start"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=60)
        status, _, got = d.request("GET", "/v1/datasets/" + ds)
        self.assertEqual(status, 200, got)

    def test_job_resumes_after_kill(self):
        state = tempfile.mkdtemp(prefix="fitd-test-")
        # After tearDown, which reads the log beside it.
        self.addCleanup(shutil.rmtree, state, ignore_errors=True)
        self.addCleanup(lambda: os.path.exists(state + ".log") and os.unlink(state + ".log"))
        d = self.daemon(state_dir=state)
        ds = upload_table(d, "iris")
        spec = dict(SPEC, dataset=ds)
        spec["search"] = dict(SPEC["search"], max_trials=12)
        spec["space"] = dict(SPEC["space"], epochs=1500)
        job_id = submit_job(d, spec)
        running = wait_job(d, job_id, states=("running", "succeeded"),
                           until=lambda j: j["progress"]["trials_done"] >= 2)
        self.assertEqual(running["state"], "running", "the job ended before the kill")
        d.kill()
        d.start()
        job = wait_job(d, job_id)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["progress"]["trials_done"], 12)
        events = read_events(d.port, job_id)
        self.assertEqual([e[0] for e in events], list(range(1, len(events) + 1)))
        # Every trial ended once, with one result.
        self.assertEqual(psql(self.uri, "SELECT count(*), count(DISTINCT idx) FROM trials"
                              " WHERE job_id = '%s' AND state = 'completed'" % job_id),
                         ["12|12"])

if __name__ == "__main__":
    unittest.main(verbosity=2)
