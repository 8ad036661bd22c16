"""Trials of one job on every node (run beside tests/pg/pgserver.sh, like
test_nodes.py): three daemons of one trial thread each share a database;
one job of parallel_trials 3 submitted to one of them runs its trials on
several nodes (the holder of the job's lease proposes and offers them, the
others take them), each trial saying which node ran it. Checked: trials
ran on at least two nodes; every trial ended once, in one terminal state,
with one trial_finished event; the leaderboard (params and scores per
index, tpe) equals a one-node run of the same spec, data and seed, and so
does an asha search's, whose pruning decisions other nodes take. Then a
node running a trial of a job another holds is killed (SIGKILL): its
trials are rescued once their lease expires and the job completes with
the same leaderboard. A cancel sent to a node that does not hold the job,
and a deadline, end the trials the other nodes run and the offers nobody
took: nothing of the job runs on, and each trial ended once. The holder
killed, another node takes the job over and the leaderboard stays.

Each test makes a database of its own on the server; every daemon is
stopped whatever happens."""

import sys
import time
import unittest

from fitdtest import upload_table, submit_job, wait_job
from test_nodes import NodesTest, LEASE_MS, metric
from test_pg import STORE, new_database, psql, board, stop_cleanly

TRIALS = 24

SPEC = {
    "target": "species",
    "space": {"models": ["logistic"], "optimizer": ["adam"], "epochs": 12000},
    "early_stopping": False,
    "validation": {"method": "cv", "folds": 3},
    "search": {"algorithm": "tpe", "max_trials": TRIALS, "seed": 23, "parallel_trials": 3},
}

ALONE = {}  # the one-node leaderboard, made once


@unittest.skipUnless(STORE, "FITD_TEST_STORE is not set: run under tests/pg/pgserver.sh")
class Share(NodesTest):
    def setUp(self):
        self.uri = new_database()
        self.daemons = {}

    def tearDown(self):
        stop_cleanly(self, list(self.daemons.values()))

    def alone(self, spec=SPEC):
        """The leaderboard of the same spec, data and seed on one SQLite node."""
        key = spec["search"]["algorithm"]
        if key not in ALONE:
            one = self.node("alone", store=False)
            ds = upload_table(one, "iris")
            t0 = time.time()
            job = wait_job(one, submit_job(one, dict(spec, dataset=ds)), timeout=300)
            self.assertEqual(job["state"], "succeeded", job)
            ALONE[key] = board(one, job["id"])
            print("one node, one thread: %d trials (%s) in %.1f s"
                  % (len(ALONE[key]), key, time.time() - t0), file=sys.stderr)
        return ALONE[key]

    def nodes_of(self, d, job_id):
        status, _, page = d.request("GET", "/v1/jobs/%s/trials?limit=1000" % job_id)
        self.assertEqual(status, 200, page)
        return {t["trial"]: t.get("node") for t in page["items"]}

    def test_one_job_on_three_nodes(self):
        nodes = {n: self.node(n) for n in ("a", "b", "c")}
        ds = upload_table(nodes["a"], "iris")
        t0 = time.time()
        job_id = submit_job(nodes["b"], dict(SPEC, dataset=ds))
        holder = self.runner(job_id)
        job = wait_job(nodes["c"], job_id, timeout=300)
        seconds = time.time() - t0
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["progress"]["trials_done"], TRIALS)

        ran = self.nodes_of(nodes["a"], job_id)
        self.assertEqual(sorted(ran), list(range(TRIALS)))
        self.assertTrue(set(ran.values()) <= {"a", "b", "c"}, ran)
        counts = {n: list(ran.values()).count(n) for n in ("a", "b", "c")}
        print("three nodes, one thread each: %d trials in %.1f s, holder %s, trials per node %s"
              % (TRIALS, seconds, holder, counts), file=sys.stderr)
        self.assertGreaterEqual(len([n for n in counts if counts[n] > 0]), 2, counts)
        self.assertEqual(psql(self.uri, "SELECT count(DISTINCT result::jsonb ->> 'node')"
                              " FROM trials WHERE job_id = '%s'" % job_id),
                         [str(len([n for n in counts if counts[n] > 0]))])
        self.check_history(job_id, TRIALS)

        # The same leaderboard as one node of its own (SQLite) gives.
        self.assertEqual(board(nodes["a"], job_id), self.alone())

    def test_asha_prunes_alike(self):
        """Successive halving decides on a snapshot of the trials below k - 8,
        read back by the node that runs trial k: the same trials are pruned
        on three nodes as on one."""
        spec = dict(SPEC, space=dict(SPEC["space"], epochs=20000))
        spec["search"] = dict(SPEC["search"], algorithm="asha", max_trials=30)
        nodes = {n: self.node(n) for n in ("a", "b", "c")}
        ds = upload_table(nodes["a"], "iris")
        job_id = submit_job(nodes["c"], dict(spec, dataset=ds))
        job = wait_job(nodes["a"], job_id, timeout=300)
        self.assertEqual(job["state"], "succeeded", job)
        multi = board(nodes["b"], job_id)
        ran = self.nodes_of(nodes["b"], job_id)
        print("asha on three nodes: trials per node %s, %d pruned"
              % ({n: list(ran.values()).count(n) for n in nodes},
                 [t[1] for t in multi].count("pruned")), file=sys.stderr)
        self.assertGreaterEqual(len(set(ran.values())), 2, ran)
        self.assertGreater([t[1] for t in multi].count("pruned"), 0)
        self.assertEqual(multi, self.alone(spec))

    def test_guest_killed(self):
        nodes = {n: self.node(n) for n in ("a", "b", "c")}
        ds = upload_table(nodes["a"], "iris")
        job_id = submit_job(nodes["a"], dict(SPEC, dataset=ds))
        holder = self.runner(job_id)
        guests = [n for n in nodes if n != holder]

        # A node that does not hold the job runs one of its trials: SIGKILL it.
        deadline = time.time() + 60
        victim = None
        while victim is None:
            self.assertLess(time.time(), deadline, "no guest ran a trial\n" + self.logs())
            rows = psql(self.uri, "SELECT lease_owner, idx FROM trials WHERE job_id = '%s'"
                        " AND state = 'running' AND lease_owner <> '%s' ORDER BY idx"
                        % (job_id, holder))
            if rows:
                victim, idx = rows[0].split("|")
            else:
                time.sleep(0.05)
        self.assertIn(victim, guests)
        self.daemons[victim].kill()
        t0 = time.time()

        # Its trial is rescued (another attempt, on a live node) and the job completes.
        while True:
            rows = psql(self.uri, "SELECT state, attempt, lease_owner FROM trials"
                        " WHERE job_id = '%s' AND idx = %s" % (job_id, idx))
            state, attempt, owner = rows[0].split("|")
            if int(attempt) >= 2 and state != "queued":
                break
            self.assertLess(time.time() - t0, 30, "trial %s not rescued: %s\n%s"
                            % (idx, rows, self.logs()))
            time.sleep(0.05)
        print("guest %s killed: its trial %s rescued in %.1f s (lease %d ms)"
              % (victim, idx, time.time() - t0, LEASE_MS), file=sys.stderr)
        live = [n for n in nodes if n != victim]
        job = wait_job(self.daemons[live[0]], job_id, timeout=300)
        self.assertEqual(job["state"], "succeeded", job)
        rescued = sum(metric(self.daemons[n], "fitd_trials_rescued_total") for n in live)
        self.assertGreaterEqual(rescued, 1)
        ran = self.nodes_of(self.daemons[live[0]], job_id)
        self.assertNotEqual(ran[int(idx)], victim)
        self.check_history(job_id, TRIALS)
        self.assertEqual(board(self.daemons[live[0]], job_id), self.alone())

    def test_holder_killed(self):
        """The holder dies (SIGKILL) while others run trials of its job: another
        node takes the job over and rebuilds the searcher from the stored
        trials (the offered ones keep their parameters), the others' trials go
        on, and the leaderboard is the one-node leaderboard."""
        nodes = {n: self.node(n) for n in ("a", "b", "c")}
        ds = upload_table(nodes["a"], "iris")
        job_id = submit_job(nodes["a"], dict(SPEC, dataset=ds))
        holder = self.runner(job_id)
        while int(psql(self.uri, "SELECT count(*) FROM trials WHERE job_id = '%s'"
                       " AND state = 'completed'" % job_id)[0]) < 6:
            time.sleep(0.05)
        self.wait_spread(job_id, holder)
        self.daemons[holder].kill()
        second = self.runner(job_id, other_than=holder)
        job = wait_job(self.daemons[second], job_id, timeout=300)
        self.assertEqual(job["state"], "succeeded", job)
        self.check_history(job_id, TRIALS)
        self.assertEqual(board(self.daemons[second], job_id), self.alone())

    def ended_once(self, job_id):
        """No trial of the job is left running anywhere, and each ended one
        has exactly one trial_finished event."""
        time.sleep(LEASE_MS / 1000)  # the guests' next look at the job
        self.assertEqual(psql(self.uri, "SELECT count(*) FROM trials WHERE job_id = '%s'"
                              " AND state = 'running'" % job_id), ["0"])
        ended = psql(self.uri, "SELECT idx FROM trials WHERE job_id = '%s' AND state NOT IN"
                     " ('queued', 'running') ORDER BY idx" % job_id)
        finished = psql(self.uri, "SELECT (data::jsonb ->> 'trial')::int, count(*) FROM events"
                        " WHERE job_id = '%s' AND type = 'trial_finished' GROUP BY 1 ORDER BY 1"
                        % job_id)
        self.assertEqual(finished, ["%s|1" % i for i in ended])
        return psql(self.uri, "SELECT state, count(*) FROM trials WHERE job_id = '%s'"
                    " GROUP BY 1 ORDER BY 1" % job_id)

    def wait_spread(self, job_id, holder):
        """Until a node other than the holder runs a trial of the job."""
        deadline = time.time() + 60
        while not psql(self.uri, "SELECT 1 FROM trials WHERE job_id = '%s' AND state ="
                       " 'running' AND lease_owner <> '%s'" % (job_id, holder)):
            self.assertLess(time.time(), deadline, "no guest ran a trial\n" + self.logs())
            time.sleep(0.05)

    def test_cancel_and_deadline_reach_every_node(self):
        """A cancel sent to any node, and a deadline, end the trials other nodes run
        (interrupted, timeout) and the offers nobody took: nothing runs on."""
        nodes = {n: self.node(n) for n in ("a", "b", "c")}
        ds = upload_table(nodes["a"], "iris")
        spec = dict(SPEC, dataset=ds)
        spec["search"] = dict(SPEC["search"], max_trials=200)
        job_id = submit_job(nodes["a"], spec)
        holder = self.runner(job_id)
        self.wait_spread(job_id, holder)
        other = next(n for n in nodes if n != holder)
        status, _, body = nodes[other].request("POST", "/v1/jobs/%s/cancel" % job_id)
        self.assertEqual(status, 202, body)
        job = wait_job(nodes[other], job_id, timeout=30)
        self.assertEqual(job["state"], "cancelled", job)
        states = self.ended_once(job_id)
        self.assertTrue(any(r.startswith("interrupted|") for r in states), states)

        spec["search"] = dict(spec["search"], max_seconds=4)
        job_id = submit_job(nodes["b"], spec)
        holder = self.runner(job_id)
        self.wait_spread(job_id, holder)
        job = wait_job(nodes["c"], job_id, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        states = self.ended_once(job_id)
        self.assertNotIn("queued", " ".join(states))


if __name__ == "__main__":
    unittest.main(verbosity=2)
