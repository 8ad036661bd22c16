"""Event streams on a shared PostgreSQL wake on LISTEN/NOTIFY (run beside
tests/pg/pgserver.sh, like test_nodes.py).

Two daemons share a database with the streams' poll slowed to 10 min
(--stream-poll-ms 600000), so only a notification can bring an event to a stream
within seconds: a stream on the node that does not run a search receives
the runner's events within a few seconds of their commit; an event written
without a notification is not delivered until a bare NOTIFY names its job.
The listeners' connections are then ended by the server
(pg_terminate_backend, found by application_name fitd-listen): they come
back, the reconnect counter moves, and events still arrive promptly; the
cancel sent through the runner reaches the stream at once. Every stream saw
gap-free ids.

With the poll at 1 s, events whose notification is lost (written without
one) still reach a stream within about a second: the poll is the
guarantee, the notification only the hint.

Each test makes a database of its own; every daemon is stopped cleanly
(exit 0, no sanitizer report) whatever happens."""

import http.client
import json
import signal
import sys
import threading
import time
import unittest

from fitdtest import upload_table, submit_job, wait_job, Daemon
from test_nodes import NodesTest, metric
from test_pg import STORE, new_database, psql, stop_cleanly

SPEC = {
    "target": "species",
    "space": {"models": ["logistic"], "optimizer": ["adam"], "epochs": 6000},
    "early_stopping": False,
    "validation": {"method": "cv", "folds": 3},
    "search": {"algorithm": "random", "max_trials": 200, "seed": 5, "parallel_trials": 1},
}

# How late a notified event may reach a stream; the slow poll is 10 min and
# the SSE heartbeat (which also looks) 15 s, so anything under it is the NOTIFY.
PROMPT_S = 3.0


class Stream:
    """An SSE stream read on a thread: self.events is [(id, type, data, ms)],
    ms the time of arrival (the host's clock, as the database's here)."""

    def __init__(self, port, job_id):
        self.events = []
        self.beats = []  # arrival times of the heartbeat's comment lines
        self.error = None
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.conn.request("GET", "/v1/jobs/%s/events" % job_id)
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        cur = {}
        try:
            for raw in iter(self.resp.readline, b""):
                line = raw.decode().rstrip("\n")
                if line == "":
                    if "id" in cur:
                        self.events.append((int(cur["id"]), cur["event"],
                                            json.loads(cur["data"]), time.time() * 1000))
                    cur = {}
                elif line.startswith(":"):
                    self.beats.append(time.time())
                else:
                    key, _, value = line.partition(": ")
                    cur[key] = value
        except Exception as e:  # reported by the test through self.error
            self.error = e

    def wait(self, pred, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(pred(e) for e in list(self.events)):
                return
            time.sleep(0.02)
        raise AssertionError("stream: no %s within %.1f s (last %s)" % (
            what, timeout, self.events[-1:]))

    def close(self):
        self.conn.close()
        self.thread.join(10)


def created(uri, job_id, after_id=0):
    """{id: created_at ms} of the job's events after after_id."""
    rows = psql(uri, "SELECT id, created_at FROM events WHERE job_id = '%s' AND id > %d"
                % (job_id, after_id))
    return {int(r.split("|")[0]): int(r.split("|")[1]) for r in rows}


def silent_event(uri, job_id):
    """Appends an event as fitd does but without its NOTIFY (a lost
    notification); its id."""
    rows = psql(uri, "WITH n AS (UPDATE event_counters SET last = last + 1 WHERE job_id = '%s'"
                " RETURNING last) INSERT INTO events (job_id, id, type, data, created_at)"
                " SELECT '%s', last, 'test_note', '{\"silent\":true}', fitd_now_ms() FROM n"
                " RETURNING id" % (job_id, job_id))
    return int(rows[0])


@unittest.skipUnless(STORE, "FITD_TEST_STORE is not set: run under tests/pg/pgserver.sh")
class Notify(NodesTest):
    def setUp(self):
        self.uri = new_database()
        self.daemons = {}
        self.streams = []

    def tearDown(self):
        for s in self.streams:
            s.close()
        stop_cleanly(self, list(self.daemons.values()))

    def node(self, name, poll_ms):
        d = Daemon(args=["--worker-threads", "1", "--max-running-jobs", "1", "--node", name,
                         "--store", self.uri, "--stream-poll-ms", str(poll_ms)])
        self.daemons[name] = d
        return d.start()

    def listening(self, d, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, _, body = d.request("GET", "/readyz")
            self.assertEqual(status, 200, body)
            self.assertEqual(body["store"]["engine"], "postgresql")
            if body["store"]["listening"]:
                self.assertEqual(metric(d, "fitd_store_listen_connected"), 1)
                return
            time.sleep(0.05)
        raise AssertionError("LISTEN not in place\n" + self.logs())

    def stream(self, d, job_id):
        s = Stream(d.port, job_id)
        self.streams.append(s)
        return s

    def assertPrompt(self, stream, job_id, after_id, n, what):
        """The next n events of the job after after_id reach the stream, each
        within PROMPT_S of its commit; the id of the last."""
        stream.wait(lambda e: e[0] >= after_id + n, 90, "%d events after %d" % (n, after_id))
        at = created(self.uri, job_id, after_id)
        late = [(e[0], e[1], round((e[3] - at[e[0]]) / 1000, 2)) for e in stream.events
                if after_id < e[0] <= after_id + n]
        print("%s: arrival after commit (s): %s" % (what, [x[2] for x in late]), file=sys.stderr)
        self.assertEqual(len(late), n)
        self.assertLess(max(x[2] for x in late), PROMPT_S, late)
        return after_id + n

    def test_streams_wake_on_notify(self):
        a, b = self.node("a", 600000), self.node("b", 600000)
        self.listening(a)
        self.listening(b)
        ds = upload_table(a, "iris")
        # One long search per node (max-running-jobs 1): the third job waits queued.
        job1 = submit_job(a, dict(SPEC, dataset=ds))
        run1 = self.runner(job1)
        job2 = submit_job(a, dict(SPEC, dataset=ds, search=dict(SPEC["search"], seed=6)))
        self.runner(job2, other_than=run1)
        runner, watcher = self.daemons[run1], self.daemons["b" if run1 == "a" else "a"]
        self.running_trial_of(job1, run1)

        # A stream of job1 on the node that does not run it: the history in one
        # fetch, then each event the runner commits within seconds.
        stream = self.stream(watcher, job1)
        last = int(psql(self.uri, "SELECT last FROM event_counters WHERE job_id = '%s'"
                        % job1)[0])
        stream.wait(lambda e: e[0] >= last, 10, "replay up to %d" % last)
        seen = self.assertPrompt(stream, job1, max(e[0] for e in stream.events), 4,
                                 "the runner's events")
        self.assertGreater(metric(watcher, "fitd_store_notifications_total"), 0)

        # job3 waits queued, so nothing writes its events but this test: one
        # written without NOTIFY stays undelivered (the poll is ten minutes away)
        # until a bare NOTIFY names the job.
        job3 = submit_job(a, dict(SPEC, dataset=ds))
        time.sleep(0.5)
        self.assertEqual(psql(self.uri, "SELECT state FROM jobs WHERE id = '%s'" % job3),
                         ["queued"])
        quiet = self.stream(b, job3)
        quiet.wait(lambda e: e[2].get("state") == "queued", 10, "job3's queued event")
        # Right after a heartbeat (which also looks in the store), 15 s from the next.
        beats = len(quiet.beats)
        deadline = time.time() + 20
        while len(quiet.beats) == beats:
            self.assertLess(time.time(), deadline, "no heartbeat on the stream")
            time.sleep(0.01)
        sid = silent_event(self.uri, job3)
        time.sleep(2.5)
        self.assertNotIn(sid, [e[0] for e in quiet.events])
        t0 = time.time()
        psql(self.uri, "SELECT pg_notify('fitd_events', '%s')" % job3)
        quiet.wait(lambda e: e[0] == sid, PROMPT_S, "the silent event after NOTIFY")
        print("silent event after a bare NOTIFY: %.2f s" % (time.time() - t0), file=sys.stderr)

        # pg_terminate_backend of every listener: each comes back, counted.
        before = {n: metric(d, "fitd_store_listen_reconnects_total")
                  for n, d in self.daemons.items()}
        killed = psql(self.uri, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE application_name = 'fitd-listen' AND datname = current_database()")
        self.assertEqual(killed, ["t", "t"])
        for n, d in self.daemons.items():
            deadline = time.time() + 10
            while metric(d, "fitd_store_listen_reconnects_total") == before[n]:
                self.assertLess(time.time(), deadline, "node %s did not reconnect\n%s"
                                % (n, self.logs()))
                time.sleep(0.05)
            self.listening(d)
            with open(d.log_path, "rb") as f:
                log = f.read()
            self.assertIn(b"event=store_listen_lost", log)
            self.assertIn(b"event=store_listen_reconnected", log)
        self.assertEqual(len(psql(self.uri, "SELECT pid FROM pg_stat_activity WHERE"
                                  " application_name = 'fitd-listen'"
                                  " AND datname = current_database()")), 2)

        # After the reconnect the runner's events still come at once, and a
        # cancel sent through node a reaches b's stream of the queued job.
        self.assertPrompt(stream, job1, max(seen, max(e[0] for e in stream.events)), 3,
                          "after the reconnect")
        status, _, body = a.request("POST", "/v1/jobs/%s/cancel" % job3)
        self.assertEqual(status, 202, body)
        quiet.wait(lambda e: e[2].get("state") == "cancelled", PROMPT_S, "job3 cancelled")
        for job_id in (job1, job2):
            status, _, body = a.request("POST", "/v1/jobs/%s/cancel" % job_id)
            self.assertEqual(status, 202, body)
        stream.wait(lambda e: e[2].get("state") == "cancelled", 30, "job1 cancelled")
        for s, job_id in ((stream, job1), (quiet, job3)):
            s.thread.join(30)  # a terminal event ends the stream
            self.assertIsNone(s.error)
            ids = [e[0] for e in s.events]
            self.assertEqual(ids, list(range(1, len(ids) + 1)), job_id)
            self.assertEqual(psql(self.uri, "SELECT last FROM event_counters WHERE"
                                  " job_id = '%s'" % job_id), [str(ids[-1])])

    def test_poll_delivers_lost_notifications(self):
        """b polls each second: events whose notification is lost reach its
        streams within about a second. The runner, a, is stopped (SIGSTOP)
        meanwhile, so no notified event of the job can bring them along."""
        a = self.node("a", 600000)
        ds = upload_table(a, "iris")
        job_id = submit_job(a, dict(SPEC, dataset=ds, search=dict(SPEC["search"], max_trials=8),
                                    space=dict(SPEC["space"], epochs=3000)))
        self.assertEqual(self.runner(job_id), "a")
        b = self.node("b", 1000)  # after a holds the job's lease: b does not run it
        self.listening(b)
        stream = self.stream(b, job_id)
        stream.wait(lambda e: e[1] == "trial_started", 10, "replay")
        a.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(0.5)  # a commit a sent before it stopped notifies meanwhile
            # Right after a heartbeat (which also looks), 15 s from the next.
            beats = len(stream.beats)
            deadline = time.time() + 20
            while len(stream.beats) == beats:
                self.assertLess(time.time(), deadline, "no heartbeat on the stream")
                time.sleep(0.01)
            lates = []
            for _ in range(3):
                sid = silent_event(self.uri, job_id)
                t0 = time.time()
                stream.wait(lambda e, sid=sid: e[0] == sid, 10, "silent event %d" % sid)
                lates.append(round(time.time() - t0, 2))
                time.sleep(0.3)
        finally:
            a.proc.send_signal(signal.SIGCONT)
        print("silent events reached the stream after (s): %s" % lates, file=sys.stderr)
        self.assertLess(max(lates), 2.5)
        status, _, ready = b.request("GET", "/readyz")
        self.assertTrue(ready["store"]["listening"], ready)
        job = wait_job(a, job_id, timeout=180)
        self.assertEqual(job["state"], "succeeded", job)
        stream.thread.join(30)
        self.assertIsNone(stream.error)
        ids = [e[0] for e in stream.events]
        self.assertEqual(ids, list(range(1, len(ids) + 1)))
        last = psql(self.uri, "SELECT last FROM event_counters WHERE job_id = '%s'" % job_id)
        self.assertEqual(last, [str(ids[-1])])
        self.assertEqual(stream.events[-1][2]["state"], "succeeded")
        self.assertEqual(sum(e[1] == "test_note" for e in stream.events), 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
