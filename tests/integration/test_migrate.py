"""fitd migrate, beside the private server tests/pg/pgserver.sh starts
(FITD_TEST_STORE): a SQLite state made by a daemon (an upload, a finished
job with its model and an alias, a cancelled job, a job stopped with
trials left) moves into an empty database; a daemon on that database
answers the same datasets, jobs, leaderboard, events (the same ids),
alias and predictions, finishes the stopped job and takes new ones. A
source a daemon has open and a target that holds fitd data are refused,
with exit status 1 and nothing changed."""

import os
import sqlite3
import subprocess
import tempfile
import unittest

from fitdtest import FITD, Daemon, upload_table, submit_job, wait_job
from test_jobs import read_events
from test_pg import STORE, SPEC, psql, new_database, board, stop_cleanly

ROWS = {"rows": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
                  "petal_width": 0.2},
                 {"sepal_length": 6.3, "sepal_width": 2.8, "petal_length": 4.9,
                  "petal_width": 1.6}]}

# What a second run must not change: every table's rows.
TABLES = ["datasets", "dataset_chunks", "dataset_columns", "jobs", "trials", "events",
          "event_counters", "model_files", "model_chunks", "models", "aliases", "trial_oof"]


def migrate(state_dir, uri):
    p = subprocess.run([FITD, "migrate", "--from", state_dir, "--to", uri],
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def counts(uri):
    return psql(uri, " UNION ALL ".join("SELECT '%s', count(*) FROM %s" % (t, t)
                                        for t in TABLES))


def job_view(job):
    """A job's answer without what a restart may change (elapsed time)."""
    return {k: job.get(k) for k in ("id", "dataset", "state", "created_at", "started_at",
                                    "finished_at", "best", "error", "target", "metric")}


@unittest.skipUnless(STORE, "FITD_TEST_STORE is not set: run under tests/pg/pgserver.sh")
class Migrate(unittest.TestCase):
    def setUp(self):
        self.uri = new_database()
        self.daemons = []

    def tearDown(self):
        stop_cleanly(self, self.daemons)

    def daemon(self, args=()):
        d = Daemon(args=["--worker-threads", "2"] + list(args))
        self.daemons.append(d)
        return d.start()

    def test_migrate(self):
        src = self.daemon()
        ds = upload_table(src, "iris")
        done = wait_job(src, submit_job(src, dict(SPEC, dataset=ds)))
        self.assertEqual(done["state"], "succeeded", done)
        model = done["best"]["model_id"]
        status, _, alias = src.request("PUT", "/v1/aliases/prod", body={"model": model})
        self.assertIn(status, (200, 201), alias)
        long_spec = dict(SPEC, dataset=ds, search={"algorithm": "random", "max_trials": 400,
                                                   "seed": 3})
        cancelled = submit_job(src, long_spec)
        status, _, body = src.request("POST", "/v1/jobs/%s/cancel" % cancelled)
        self.assertIn(status, (200, 202), body)
        wait_job(src, cancelled)
        # A job the daemon is running when it stops: it resumes after the move.
        stopped = submit_job(src, dict(long_spec, search={"algorithm": "random",
                                                          "max_trials": 120, "seed": 5}))
        wait_job(src, stopped, states=("running", "succeeded"),
                 until=lambda j: j["progress"]["trials_done"] >= 2)

        # A daemon has the state open: refused, and the target is not touched.
        rc, out, errs = migrate(src.state_dir, self.uri)
        self.assertEqual(rc, 1, out + errs)
        self.assertIn("source_in_use", errs)
        self.assertEqual(psql(self.uri, "SELECT count(*) FROM pg_tables WHERE tablename = 'jobs'"),
                         ["0"])

        before = {}
        for job_id in (done["id"], cancelled, stopped):
            status, _, job = src.request("GET", "/v1/jobs/" + job_id)
            self.assertEqual(status, 200, job)
            before[job_id] = job
        board_before = board(src, done["id"])
        events_before = read_events(src.port, done["id"])
        _, _, ds_before = src.request("GET", "/v1/datasets/" + ds)
        _, _, alias_before = src.request("GET", "/v1/aliases/prod")
        _, _, pred_before = src.request("POST", "/v1/aliases/prod/predict", body=ROWS)
        self.assertEqual(src.stop(), 0)
        self.assertEqual(before[stopped]["state"], "running", before[stopped])

        rc, out, errs = migrate(src.state_dir, self.uri)
        self.assertEqual(rc, 0, out + errs)
        print("\n%s (job %s was %s with %d trials done)" % (
            out.strip(), stopped, before[stopped]["state"],
            before[stopped]["progress"]["trials_done"]))
        self.assertIn("datasets=1 ", out)
        self.assertIn("jobs=3 ", out)
        self.assertIn("aliases=1 ", out)
        # Every row of the source is in the target, and the counts printed say so.
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(src.state_dir, "fitd.db"),
                             uri=True)
        for table, key in (("datasets", "datasets"), ("dataset_columns", "columns"),
                           ("jobs", "jobs"), ("trials", "trials"), ("events", "events"),
                           ("models", "models"), ("aliases", "aliases")):
            n = db.execute("SELECT count(*) FROM " + table).fetchone()[0]
            self.assertEqual(psql(self.uri, "SELECT count(*) FROM " + table), [str(n)], table)
            self.assertIn(" %s=%d" % (key, n), out)
        db.close()
        self.assertEqual(psql(self.uri, "SELECT count(*) FROM model_files"),
                         psql(self.uri, "SELECT count(*) FROM models"))
        self.assertEqual(psql(self.uri, "SELECT count(*) FROM trials WHERE state = 'running'"),
                         ["0"])

        # A second run is refused and changes nothing.
        snapshot = counts(self.uri)
        rc, out2, errs = migrate(src.state_dir, self.uri)
        self.assertEqual(rc, 1, out2 + errs)
        self.assertIn("target_not_empty", errs)
        self.assertEqual(counts(self.uri), snapshot)

        # A daemon on the database, with a new state directory, answers the same.
        pg = self.daemon(["--store", self.uri])
        status, _, ds_after = pg.request("GET", "/v1/datasets/" + ds)
        self.assertEqual((status, ds_after), (200, ds_before))
        for job_id in (done["id"], cancelled):
            status, _, job = pg.request("GET", "/v1/jobs/" + job_id)
            self.assertEqual(status, 200, job)
            self.assertEqual(job_view(job), job_view(before[job_id]))
        self.assertEqual(board(pg, done["id"]), board_before)
        self.assertEqual(read_events(pg.port, done["id"]), events_before)
        # A client that read the stream on SQLite resumes it at its Last-Event-ID.
        last = events_before[-3][0]
        self.assertEqual(read_events(pg.port, done["id"], last_id=last), events_before[-2:])
        status, _, alias_after = pg.request("GET", "/v1/aliases/prod")
        self.assertEqual((status, alias_after), (200, alias_before))
        status, _, pred_after = pg.request("POST", "/v1/aliases/prod/predict", body=ROWS)
        self.assertEqual((status, pred_after), (200, pred_before))
        # The job the daemon stopped in is taken up and finishes its 120 trials.
        job = wait_job(pg, stopped, timeout=300)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["progress"]["trials_done"], 120)
        # New uploads and jobs take new seqs and ids after the moved ones.
        job2 = wait_job(pg, submit_job(pg, dict(SPEC, dataset=ds)))
        self.assertEqual(job2["state"], "succeeded", job2)
        self.assertEqual(board(pg, job2["id"]), board_before)
        status, _, page = pg.request("GET", "/v1/jobs?limit=10")
        self.assertEqual(status, 200, page)
        self.assertEqual(len(page["items"]), 4)

    def test_killed_source(self):
        """A daemon killed (-9) mid-search leaves trials running and its WAL:
        they move as queued, and a daemon on the database finishes the job."""
        src = self.daemon()
        ds = upload_table(src, "iris")
        # Trials long enough that one still runs when the kill comes after
        # a look that saw it running (at 60 epochs, both threads were
        # sometimes between trials).
        job_id = submit_job(src, dict(SPEC, dataset=ds, space=dict(SPEC["space"], epochs=1500),
                                      search={"algorithm": "random", "max_trials": 200,
                                              "seed": 9}))
        wait_job(src, job_id, states=("running",),
                 until=lambda j: j["progress"]["trials_done"] >= 3 and
                 j["progress"]["trials_running"] > 0)
        src.kill()
        rc, out, errs = migrate(src.state_dir, self.uri)
        self.assertEqual(rc, 0, out + errs)
        print("\n" + out.strip())
        self.assertGreater(int(out.split("requeued=")[1].split()[0]), 0, out)
        pg = self.daemon(["--store", self.uri])
        job = wait_job(pg, job_id, timeout=300)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["progress"]["trials_done"], 200)

    def test_damaged_source_changes_nothing(self):
        """A failure part way (a model file gone from the source) rolls the
        whole move back: the target holds no row, and a later run can go."""
        src = self.daemon()
        ds = upload_table(src, "iris")
        job = wait_job(src, submit_job(src, dict(SPEC, dataset=ds)))
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(src.stop(), 0)
        model = os.path.join(src.state_dir, "models", job["best"]["model_id"])
        os.rename(model, model + ".away")
        rc, out, errs = migrate(src.state_dir, self.uri)
        self.assertEqual(rc, 1, out + errs)
        self.assertIn("model_file_missing", errs)
        self.assertEqual(set(line.split("|")[1] for line in counts(self.uri)), {"0"})
        os.rename(model + ".away", model)
        rc, out, errs = migrate(src.state_dir, self.uri)
        self.assertEqual(rc, 0, out + errs)
        self.assertIn("datasets=1 jobs=1 ", out.replace("columns=5 ", ""))

    def test_refusals(self):
        """Bad usage exits 2; a directory without a state, a target that is
        not PostgreSQL and an unreachable server exit 1 with the reason."""
        for args in ([], ["--from", "/tmp"], ["--to", self.uri], ["--from", "/tmp", "--to"]):
            p = subprocess.run([FITD, "migrate"] + args, capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("usage: fitd migrate", p.stderr)
        empty = tempfile.mkdtemp(prefix="fitd-migrate-test-")
        try:
            rc, _, errs = migrate(empty, self.uri)
            self.assertEqual(rc, 1, errs)
            self.assertIn("source_not_found", errs)
            src = self.daemon()
            src.stop()
            rc, _, errs = migrate(src.state_dir, empty)
            self.assertEqual(rc, 1, errs)
            self.assertIn("invalid_target", errs)
            rc, _, errs = migrate(src.state_dir, "postgresql://fitd@127.0.0.1:1/none"
                                  "?connect_timeout=2")
            self.assertEqual(rc, 1, errs)
        finally:
            os.rmdir(empty)
        # Nothing was made in the database by any of it.
        self.assertEqual(psql(self.uri, "SELECT count(*) FROM pg_tables WHERE tablename = 'jobs'"),
                         ["0"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
