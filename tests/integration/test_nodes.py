"""Several daemons on one PostgreSQL (run beside tests/pg/pgserver.sh, like
test_pg.py): nodes with a 2 s lease share a database. A cancel sent to a
node that does not run the job ends it within a heartbeat or two. A node
stopped with SIGTERM hands its job over before its lease would have
expired. A job's time budget runs on the database's clock: taken over
after its budget passed, it ends at once.

NodesTest is what the tests of several nodes share (test_share.py,
test_nodes_faults.py, test_notify.py): starting a node, the holder of a
job's lease, the trial a node runs, and check_history(), the invariant
every trial of a search must meet. The node killed, the zombie and the
leaderboard equal to one node's are in test_nodes_faults.py, on one search
with every other fault.

Each test makes a database of its own on the server; every daemon is
stopped whatever happens."""

import re
import sys
import time
import unittest

from fitdtest import Daemon, upload_table, submit_job, wait_job
from test_pg import STORE, new_database, psql, stop_cleanly

LEASE_MS = 2000

SPEC = {
    "target": "species",
    "space": {"models": ["logistic"], "optimizer": ["adam"], "epochs": 12000},
    "early_stopping": False,
    "validation": {"method": "cv", "folds": 3},
    "search": {"algorithm": "random", "max_trials": 14, "seed": 11, "parallel_trials": 1},
}


def metric(d, name):
    status, _, text = d.request("GET", "/metrics")
    assert status == 200
    m = re.search(rb"^" + name.encode() + rb" (\d+)$", text, re.M)
    assert m, name
    return int(m.group(1))


class NodesTest(unittest.TestCase):
    """What the tests of several nodes share: the database self.uri and the
    daemons by node name, self.daemons."""

    def node(self, name, store=True):
        """Starts (again) the daemon of node name, one trial thread."""
        args = ["--worker-threads", "1", "--lease-ms", str(LEASE_MS), "--node", name]
        if store:
            args += ["--store", self.uri]
        d = self.daemons.get(name) or Daemon(args=args)
        self.daemons[name] = d
        return d.start()

    def runner(self, job_id, timeout=30, other_than=None):
        """The node holding the job's lease (once one other than other_than does)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            rows = psql(self.uri, "SELECT lease_owner FROM jobs WHERE id = '%s'"
                        " AND lease_expires_at > now()" % job_id)
            if rows and rows[0] in self.daemons and rows[0] != other_than:
                return rows[0]
            time.sleep(0.1)
        raise AssertionError("no node holds job %s: %s\n%s" % (
            job_id, psql(self.uri, "SELECT state, lease_owner, lease_expires_at, now(), epoch"
                         " FROM jobs WHERE id = '%s'" % job_id), self.logs()))

    def logs(self):
        """The end of every daemon's log, for a failure's message."""
        out = []
        for name, d in self.daemons.items():
            try:
                with open(d.log_path, "rb") as f:
                    out.append("--- %s\n%s" % (name, f.read()[-2500:].decode("utf-8", "replace")))
            except OSError:
                pass
        return "\n".join(out)

    def check_history(self, job_id, n):
        """Every one of the job's n trials ended once: completed, with one
        result and one trial_finished event."""
        self.assertEqual(psql(self.uri, "SELECT count(*), count(DISTINCT idx), min(idx), max(idx)"
                              " FROM trials WHERE job_id = '%s' AND state = 'completed'"
                              " AND result IS NOT NULL" % job_id),
                         ["%d|%d|0|%d" % (n, n, n - 1)])
        self.assertEqual(psql(self.uri, "SELECT count(*) FROM trials WHERE job_id = '%s'"
                              % job_id), [str(n)])
        finished = psql(self.uri, "SELECT (data::jsonb ->> 'trial')::int, count(*) FROM events"
                        " WHERE job_id = '%s' AND type = 'trial_finished' GROUP BY 1 ORDER BY 1"
                        % job_id)
        self.assertEqual(finished, ["%d|1" % i for i in range(n)])

    def running_trial_of(self, job_id, name, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            rows = psql(self.uri, "SELECT idx FROM trials WHERE job_id = '%s' AND"
                        " state = 'running' AND lease_owner = '%s'" % (job_id, name))
            if rows:
                return int(rows[0])
            time.sleep(0.05)
        raise AssertionError("node %s runs no trial of %s\n%s" % (name, job_id, self.logs()))


@unittest.skipUnless(STORE, "FITD_TEST_STORE is not set: run under tests/pg/pgserver.sh")
class Nodes(NodesTest):
    def setUp(self):
        self.uri = new_database()
        self.daemons = {}

    def tearDown(self):
        stop_cleanly(self, list(self.daemons.values()))

    def done(self, d, job_id):
        status, _, job = d.request("GET", "/v1/jobs/" + job_id)
        self.assertEqual(status, 200, job)
        return job["progress"]["trials_done"]

    def wait_done(self, d, job_id, n, timeout=90):
        deadline = time.time() + timeout
        while self.done(d, job_id) < n:
            self.assertLess(time.time(), deadline, "job %s stuck before %d trials" % (job_id, n))
            time.sleep(0.1)

    def test_cancel_through_another_node(self):
        nodes = {n: self.node(n) for n in ("a", "b")}
        ds = upload_table(nodes["a"], "iris")
        spec = dict(SPEC, dataset=ds)
        spec["search"] = dict(SPEC["search"], max_trials=200)
        job_id = submit_job(nodes["b"], spec)
        run = self.runner(job_id)
        other = nodes["b" if run == "a" else "a"]
        self.running_trial_of(job_id, run)
        status, _, body = other.request("POST", "/v1/jobs/%s/cancel" % job_id)
        self.assertEqual(status, 202, body)
        t0 = time.time()
        job = wait_job(other, job_id, timeout=30)
        self.assertEqual(job["state"], "cancelled", job)
        # Within a heartbeat (a third of the lease) and the trial's stop.
        print("cancel through the other node: %.1f s" % (time.time() - t0), file=sys.stderr)
        self.assertLess(time.time() - t0, 10)

    def test_stopped_node_hands_its_job_over(self):
        """SIGTERM on the node running a job: its trial is given back and its
        lease released, so the other node goes on at once and finishes it."""
        nodes = {n: self.node(n) for n in ("a", "b")}
        ds = upload_table(nodes["a"], "iris")
        spec = dict(SPEC, dataset=ds)
        spec["search"] = dict(SPEC["search"], max_trials=6)
        job_id = submit_job(nodes["a"], spec)
        run = self.runner(job_id)
        other = nodes["b" if run == "a" else "a"]
        self.running_trial_of(job_id, run)
        self.assertEqual(self.daemons[run].stop(), 0)
        with open(self.daemons[run].log_path, "rb") as f:
            self.assertIn(b"event=leases_released node=%s jobs=1" % run.encode(), f.read())
        self.assertNotEqual(self.runner(job_id, timeout=LEASE_MS / 1000 * 0.9, other_than=run),
                            run)
        job = wait_job(other, job_id, timeout=120)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(psql(self.uri, "SELECT count(*), count(DISTINCT idx) FROM trials"
                              " WHERE job_id = '%s' AND state = 'completed'" % job_id),
                         ["6|6"])
        # The trial given back was not counted as an attempt.
        self.assertEqual(psql(self.uri, "SELECT max(attempt) FROM trials WHERE job_id = '%s'"
                              % job_id), ["1"])

    def test_deadline_on_the_database_clock(self):
        """A job's time budget is time on the database's clock since it
        started: a node that takes it over after its holder died counts the
        time it had no holder, so a job past its budget ends at once."""
        a = self.node("a")
        spec = dict(SPEC, dataset=upload_table(a, "iris"))
        spec["search"] = dict(SPEC["search"], max_trials=200, max_seconds=10)
        job_id = submit_job(a, spec)
        self.wait_done(a, job_id, 1)
        a.kill()
        # Nobody runs it until the database's clock is past its budget.
        age = "SELECT fitd_now_ms() - started_at FROM jobs WHERE id = '%s'" % job_id
        while int(psql(self.uri, age)[0]) < 12000:
            time.sleep(0.2)
        b_start = int(psql(self.uri, "SELECT fitd_now_ms()")[0])
        b = self.node("b")
        job = wait_job(b, job_id, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertGreaterEqual(job["progress"]["elapsed_s"], 12, job)
        ended = int(psql(self.uri, "SELECT finished_at FROM jobs WHERE id = '%s'" % job_id)[0])
        # A budget counted from the take-over would leave it about 8 s more.
        self.assertLess(ended - b_start, 5000, self.logs())


if __name__ == "__main__":
    unittest.main(verbosity=2)
