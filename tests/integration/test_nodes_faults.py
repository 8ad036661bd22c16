"""Every fault under several nodes (run beside tests/pg/pgserver.sh, like
test_nodes.py): three daemons of one trial thread with a 2 s lease share
one PostgreSQL, each through a TCP proxy of its own (socat), during one
random search of 200 short trials (one at a time, a fixed seed), and each
fault strikes whichever node runs the job at that moment, a few trials
after the one before:

1. SIGKILL, during a trial, just after the node acknowledged an upload:
   another node takes the job over; the killed one comes back as the same
   node (its state directory);
2. SIGSTOP past the lease, during a trial, then SIGCONT (the zombie):
   another node takes the job over; the zombie's late writes are refused
   and counted, and it drops the job;
3. pg_terminate_backend of every database connection of the node, its
   pool's and its LISTEN connection, three times in a row: it opens them
   again and goes on, its lease kept, no other node's listener touched;
4. PostgreSQL restarted (pg_ctl restart -m immediate) during a trial, just
   after another node acknowledged an upload: the search goes on;
5. its proxy cut (socat killed, its connections with it) during a trial,
   for longer than the lease, then restored: another node takes the job
   over; the cut node's late writes are refused and counted, and it drops
   the job. The search must still be running then.

Faults 1, 2 and 5 are aimed: the node is paused (SIGSTOP, for one psql
query) until the database shows it running a trial, then struck, so each
lands inside a trial, which must later be rescued and run again.

A stream of the job's events is read on every node from the start, as an
SSE client reads it: a read the node ends in error (the killed node's, or
one the node ended when it could not read its database, as api/events.c
does) is read on with Last-Event-ID set to the last id it had; a clean end
must come only with the job's. Checked over the whole history: every
trial ended once, in one terminal state with one result and one
trial_finished event; each trial a fault struck ran again; the refused
stale writes are in /metrics; every stream, its reads joined, saw the same
events with ids 1, 2, ... up to the last, without a gap, as the database
holds them; every node answers for the three uploads, the job and its
events, and is ready, listening again; the leaderboard equals that of one
node alone (SQLite) on the same spec, data and seed, which random search
promises and which runs beside the rest.

A second case sends SIGTERM to a node cut from its database while it runs
a job: it stops at once and cleanly, and the job goes on elsewhere.

Every daemon and every proxy is stopped (a paused daemon woken first)
whatever happens."""

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

from fitdtest import Daemon, upload_table, submit_job, wait_job
from test_jobs import read_events
from test_pg import STORE, PSQL, board, new_database, psql, stop_cleanly
from test_nodes import LEASE_MS, NodesTest, metric

SPEC = {
    "target": "species",
    "space": {"models": ["logistic"], "optimizer": ["adam"], "epochs": 12000},
    "early_stopping": False,
    "validation": {"method": "cv", "folds": 3},
    "search": {"algorithm": "random", "max_trials": 40, "seed": 5, "parallel_trials": 1},
}
NAMES = ("a", "b", "c")

# The search every fault strikes: 200 short trials (about 0.1 s each here).
TRIALS = 200
CHAOS = dict(SPEC, space=dict(SPEC["space"], epochs=2000),
             search=dict(SPEC["search"], max_trials=TRIALS))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def own_group_dies_with_us():
    """In a child before exec: a process group of its own (so cut() can kill
    socat with the connections it forked), and SIGKILL when the test dies
    even by SIGKILL (a meson timeout): no proxy outlives the test."""
    os.setpgid(0, 0)
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Proxy:
    """socat forwarding a loopback port to the test server. cut() kills it
    with every connection it forwards (its process group); start() listens
    on the same port again."""

    def __init__(self, target_port):
        self.port = free_port()
        self.target = target_port
        self.proc = None

    def start(self, timeout=10):
        self.proc = subprocess.Popen(
            ["socat", "TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr" % self.port,
             "TCP:127.0.0.1:%d" % self.target],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=own_group_dies_with_us)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("socat exited: %s" % self.proc.returncode)
                time.sleep(0.05)
        raise RuntimeError("socat does not listen on %d" % self.port)

    def upstream_ports(self):
        """The local ports of the connections this proxy opened to the
        server (its processes' sockets): pg_stat_activity's client_port of
        its daemon's connections."""
        inodes = set()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/stat" % pid) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[2]) != self.proc.pid:  # pgrp
                        continue
                for fd in os.listdir("/proc/%s/fd" % pid):
                    link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
                    if link.startswith("socket:["):
                        inodes.add(link[8:-1])
            except OSError:  # gone meanwhile
                continue
        ports = set()
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                local, remote, inode = line.split()[1], line.split()[2], line.split()[9]
                if inode in inodes and int(remote.split(":")[1], 16) == self.target:
                    ports.add(int(local.split(":")[1], 16))
        return ports

    def cut(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.proc = None


class Stream:
    """The job's event stream on one node, read in a thread of its own from
    the first event to the job's end as an SSE client reads it: a read the
    node ends in error (killed, or unable to read its database: see
    api/events.c) is read on with Last-Event-ID set to the last id it had,
    on the node come back (its new port) or at once. reads holds each
    read's events and how it ended: "end" (cleanly) or the error."""

    def __init__(self, d, job_id, timeout=600):
        self.d, self.job_id, self.timeout = d, job_id, timeout
        self.reads, self.errors = [], []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def events(self):
        return [e for events, _ in self.reads for e in events]

    def run(self):
        try:
            deadline = time.time() + self.timeout
            while not self.reads or self.reads[-1][1] != "end":
                if time.time() > deadline:
                    raise AssertionError("the stream on port %d did not end" % self.d.port)
                self.read()
        except Exception as e:  # the test reports it
            self.errors.append(repr(e))

    def read(self):
        """One read, over HTTP/1.1 by hand: http.client takes a chunked
        body cut short (the node's error ending) for a clean end."""
        seen = self.events()
        last = "Last-Event-ID: %d\r\n" % seen[-1][0] if seen else ""
        try:
            sock = socket.create_connection(("127.0.0.1", self.d.port), timeout=60)
        except OSError:  # the node is down: again shortly
            time.sleep(0.1)
            return
        events, ended = [], "end"
        with sock, sock.makefile("rb") as f:
            try:
                sock.sendall(("GET /v1/jobs/%s/events HTTP/1.1\r\nHost: fitd\r\n%s\r\n"
                              % (self.job_id, last)).encode())
                status = f.readline().split()
                head = []
                for line in iter(f.readline, b"\r\n"):
                    if not line:
                        raise ConnectionError("no headers")
                    head.append(line.lower())
            except OSError:  # killed meanwhile: again shortly
                time.sleep(0.1)
                return
            if status[1] == b"503":  # starting again
                time.sleep(0.1)
                return
            assert status[1] == b"200", status
            assert b"transfer-encoding: chunked\r\n" in head, head
            text, cur = b"", {}
            try:
                while True:
                    line = f.readline()
                    if not line.endswith(b"\r\n"):
                        raise ConnectionError("cut in a chunk's size")
                    size = int(line.split(b";")[0], 16)
                    if size == 0:
                        break  # the last chunk: a clean end
                    chunk = f.read(size + 2)
                    if len(chunk) != size + 2:
                        raise ConnectionError("cut in a chunk")
                    text += chunk[:-2]
                    *lines, text = text.split(b"\n")
                    for line in lines:
                        line = line.decode()
                        if line == "":
                            if "id" in cur:
                                events.append((int(cur["id"]), cur["event"],
                                               json.loads(cur["data"])))
                            cur = {}
                        elif not line.startswith(":"):
                            key, _, value = line.partition(": ")
                            cur[key] = value
            except TimeoutError:  # a stream silent past its heartbeats: a failure
                raise
            except OSError as e:
                ended = repr(e)
        self.reads.append((events, ended))


@unittest.skipUnless(STORE, "FITD_TEST_STORE is not set: run under tests/pg/pgserver.sh")
class NodeFaults(NodesTest):
    def setUp(self):
        # SIGTERM (pgserver.sh's, meson's) fails the test, so tearDown runs.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit("SIGTERM"))
        self.uri = new_database()
        self.daemons = {}
        self.proxies = {}
        self.stopped = set()
        self.misses = 0  # aim()'s pauses between two trials

    def tearDown(self):
        try:
            for name in self.stopped:
                if self.daemons[name].proc is not None:
                    self.daemons[name].proc.send_signal(signal.SIGCONT)
            # A proxy the test failed to restore comes back first: a daemon
            # cut from its database takes far longer to stop (its store's
            # calls wait out their reconnect back-off).
            for p in self.proxies.values():
                if p.proc is None:
                    p.start()
            stop_cleanly(self, list(self.daemons.values()))
        finally:
            for p in self.proxies.values():
                p.cut()

    def node(self, name):
        """A daemon whose store goes through a proxy of its own; its
        connections are named fitd-NAME on the server."""
        p = self.proxies[name] = Proxy(int(os.environ["FITD_TEST_PG_PORT"])).start()
        db = self.uri.rsplit("/", 1)[1]
        uri = "postgresql://fitd@127.0.0.1:%d/%s?application_name=fitd-%s" % (p.port, db, name)
        d = self.daemons[name] = Daemon(args=["--worker-threads", "1", "--lease-ms",
                                              str(LEASE_MS), "--node", name, "--store", uri])
        return d.start()

    def done(self, job_id):
        return int(psql(self.uri, "SELECT count(*) FROM trials WHERE job_id = '%s'"
                        " AND state = 'completed'" % job_id)[0])

    def wait_done(self, job_id, n, timeout=60):
        deadline = time.time() + timeout
        while self.done(job_id) < n:
            self.assertLess(time.time(), deadline, "job %s stuck before %d trials\n%s" % (
                job_id, n, self.logs()))
            time.sleep(0.1)

    def wait_metric(self, name, metric_name, at_least, timeout=30):
        deadline = time.time() + timeout
        while metric(self.daemons[name], metric_name) < at_least:
            self.assertLess(time.time(), deadline, "%s: %s below %d\n%s" % (
                name, metric_name, at_least, self.logs()))
            time.sleep(0.1)

    def log_of(self, name):
        with open(self.daemons[name].log_path, "rb") as f:
            return f.read()

    def terminate(self, name):
        """pg_terminate_backend of every connection of node name: its pool's
        (application_name fitd-NAME) and its LISTEN connection (fitd-listen,
        told from the other nodes' by the port its proxy connects from).
        How many of each were terminated, by application_name."""
        ports = ",".join(map(str, self.proxies[name].upstream_ports())) or "NULL"
        # The timeout makes each termination wait until the backend has gone.
        rows = psql(self.uri, "SELECT application_name, count(pg_terminate_backend(pid, 5000))"
                    " FROM pg_stat_activity WHERE application_name = 'fitd-%s' OR"
                    " (application_name = 'fitd-listen' AND client_port IN (%s))"
                    " GROUP BY 1" % (name, ports))
        return dict((r.split("|")[0], int(r.split("|")[1])) for r in rows)

    def restart_server(self):
        data = os.path.join(os.environ["FITD_TEST_PG_DIR"], "data")
        as_user = ["runuser", "-u", "nobody", "--"] if os.getuid() == 0 else []
        subprocess.run(as_user + [os.path.join(os.path.dirname(PSQL), "pg_ctl"), "-D", data,
                                  "-l", os.path.join(data, "..", "server.log"),
                                  "-m", "immediate", "-w", "restart"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)

    def fresh_trial(self, job_id, name, timeout=30):
        """Waits until node name starts a trial of the job it did not run
        when called, so a fault struck at once lands early in that trial;
        the trial's index."""
        sql = ("SELECT idx FROM trials WHERE job_id = '%s' AND state = 'running'"
               " AND lease_owner = '%s'" % (job_id, name))
        was = set(psql(self.uri, sql))
        deadline = time.time() + timeout
        while time.time() < deadline:
            now = set(psql(self.uri, sql))
            if now - was:
                return int(min(now - was))
            was &= now
        raise AssertionError("node %s starts no trial of %s\n%s" % (name, job_id, self.logs()))

    def aim(self, job_id, name, tries=20):
        """Pauses node name (SIGSTOP) at a moment the database shows it
        running a trial of the job, so the fault struck next lands during
        that trial; the trial's index. The caller strikes, and wakes it
        (SIGCONT) unless it killed it. The pause, a psql query long, is far
        inside the lease and its heartbeat."""
        d = self.daemons[name]
        for _ in range(tries):
            self.fresh_trial(job_id, name)
            d.proc.send_signal(signal.SIGSTOP)
            self.stopped.add(name)
            rows = psql(self.uri, "SELECT idx FROM trials WHERE job_id = '%s' AND"
                        " state = 'running' AND lease_owner = '%s'" % (job_id, name))
            if rows:
                return int(rows[0])
            # Paused between two trials: on, and again at the next trial.
            self.misses += 1
            self.wake(name)
        raise AssertionError("node %s never paused during a trial of %s" % (name, job_id))

    def wake(self, name):
        self.daemons[name].proc.send_signal(signal.SIGCONT)
        self.stopped.discard(name)

    def count_in_log(self, name, text):
        return self.log_of(name).count(text.encode())

    def fence_counts(self, name, job_id):
        """A node's lease losses, refused stale writes and job_lease_lost
        lines for job_id, before a fault that must fence it."""
        d = self.daemons[name]
        return (metric(d, "fitd_lease_losses_total"),
                metric(d, "fitd_stale_writes_refused_total"),
                self.count_in_log(name, "event=job_lease_lost job=%s node=%s" % (job_id, name)))

    def assert_fenced(self, name, job_id, before):
        """The node lost its lease, its late writes were refused and counted,
        and it logged the loss, since before = fence_counts()."""
        losses, stale, logged = before
        self.wait_metric(name, "fitd_lease_losses_total", losses + 1)
        self.wait_metric(name, "fitd_stale_writes_refused_total", stale + 1)
        self.assertGreater(self.count_in_log(
            name, "event=job_lease_lost job=%s node=%s" % (job_id, name)), logged)

    def test_every_fault(self):
        n = TRIALS
        t_start = time.time()
        for x in NAMES:
            self.node(x)
        # The one-node run of the same spec, data and seed, beside the rest.
        alone = self.daemons["alone"] = Daemon(args=["--worker-threads", "1", "--node",
                                                     "alone"]).start()
        alone_job = submit_job(alone, dict(CHAOS, dataset=upload_table(alone, "iris")))
        uploads = [upload_table(self.daemons["a"], "iris")]
        job_id = submit_job(self.daemons["a"], dict(CHAOS, dataset=uploads[0]))
        streams = {x: Stream(self.daemons[x], job_id) for x in NAMES}
        interrupted = []  # the trials the faults struck, each at its start

        # (1) SIGKILL the node running the job during a trial, just after it
        # acknowledged an upload: another takes the job over, and the killed
        # one comes back as the same node (its state directory); its
        # stream, broken, reads on from its last id on the node come back.
        self.wait_done(job_id, 3)
        killed = self.runner(job_id)
        uploads.append(upload_table(self.daemons[killed], "iris"))
        interrupted.append(self.aim(job_id, killed))
        self.daemons[killed].kill()
        self.stopped.discard(killed)
        t0 = time.time()
        taker = self.runner(job_id, other_than=killed)
        print("(1) %s killed after %d trials, %s took over in %.1f s (lease %d ms)" % (
            killed, self.done(job_id), taker, time.time() - t0, LEASE_MS), file=sys.stderr)
        self.assertLess(time.time() - t0, 15)
        self.daemons[killed].start()

        # (2) SIGSTOP the next runner past its lease, then SIGCONT: a zombie
        # whose late writes are refused and counted, and which drops the job.
        self.wait_done(job_id, self.done(job_id) + 3)
        zombie = self.runner(job_id)
        fenced = self.fence_counts(zombie, job_id)
        interrupted.append(self.aim(job_id, zombie))
        taker = self.runner(job_id, other_than=zombie)
        time.sleep(1.0)
        self.wake(zombie)
        print("(2) %s stopped after %d trials, %s took over" % (zombie, self.done(job_id), taker),
              file=sys.stderr)
        self.assert_fenced(zombie, job_id, fenced)

        # (3) Terminate every connection of the runner, three times: it opens
        # them again (the LISTEN one too) and goes on, keeping its lease.
        self.wait_done(job_id, self.done(job_id) + 3)
        runner = self.runner(job_id)
        reconnects = self.count_in_log(runner, "event=store_reconnected")
        listens = metric(self.daemons[runner], "fitd_store_listen_reconnects_total")
        losses = metric(self.daemons[runner], "fitd_lease_losses_total")
        untouched = dict((x, metric(self.daemons[x], "fitd_store_listen_reconnects_total"))
                         for x in NAMES if x != runner)
        self.fresh_trial(job_id, runner)
        terminated = self.terminate(runner)
        print("(3) %s's connections terminated after %d trials: %s" % (
            runner, self.done(job_id), terminated), file=sys.stderr)
        self.assertEqual(terminated.get("fitd-listen"), 1, terminated)
        self.assertGreater(terminated.get("fitd-" + runner, 0), 0, terminated)
        for _ in range(2):
            time.sleep(0.3)
            self.terminate(runner)
        self.wait_done(job_id, self.done(job_id) + 2)
        self.assertGreater(self.count_in_log(runner, "event=store_reconnected"), reconnects)
        self.wait_metric(runner, "fitd_store_listen_reconnects_total", listens + 1)
        self.wait_metric(runner, "fitd_store_listen_connected", 1)
        self.assertEqual(metric(self.daemons[runner], "fitd_lease_losses_total"), losses)
        self.assertEqual(self.runner(job_id), runner)
        # Only the runner's LISTEN connection was terminated, no other node's.
        for x, count in untouched.items():
            self.assertEqual(metric(self.daemons[x], "fitd_store_listen_reconnects_total"),
                             count, x)

        # (4) Restart PostgreSQL (-m immediate) during a trial, just after
        # another node acknowledged an upload: the search goes on.
        self.wait_done(job_id, self.done(job_id) + 1)
        runner = self.runner(job_id)
        uploads.append(upload_table(self.daemons[next(x for x in NAMES if x != runner)], "iris"))
        self.fresh_trial(job_id, runner)
        before = self.done(job_id)
        self.restart_server()
        print("(4) server restarted after %d trials" % before, file=sys.stderr)
        self.wait_done(job_id, before + 3)

        # (5) Cut the runner's proxy during a trial for longer than the lease:
        # another node takes the job over; once the proxy is back the cut
        # node's late writes are refused and counted, and it drops the job.
        cut = self.runner(job_id)
        fenced = self.fence_counts(cut, job_id)
        interrupted.append(self.aim(job_id, cut))
        self.proxies[cut].cut()
        self.wake(cut)
        before = self.done(job_id)
        self.assertLess(before, n - 20, "the search was nearly over before the last fault")
        t0 = time.time()
        taker = self.runner(job_id, other_than=cut)
        print("(5) %s cut off after %d trials, %s took over in %.1f s" % (
            cut, before, taker, time.time() - t0), file=sys.stderr)
        time.sleep(LEASE_MS / 1000)
        self.proxies[cut].start()
        self.assert_fenced(cut, job_id, fenced)
        self.assertEqual(self.runner(job_id), taker)
        # The search still ran when the cut node came back.
        self.assertEqual(psql(self.uri, "SELECT state FROM jobs WHERE id = '%s'" % job_id),
                         ["running"])

        job = wait_job(self.daemons[taker], job_id, timeout=300)
        self.assertEqual(job["state"], "succeeded", job)
        print("%d trials under the faults in %.1f s (aimed pauses between trials: %d)" % (
            n, time.time() - t_start, self.misses), file=sys.stderr)
        self.assertEqual(job["progress"]["trials_done"], n)
        for x in NAMES:
            streams[x].thread.join(60)
            self.assertFalse(streams[x].thread.is_alive(), x)
            self.assertEqual(streams[x].errors, [], x)

        # Every trial ended once: one terminal state, one result, one
        # trial_finished; each trial a fault struck ran again and was
        # rescued, on a live node.
        self.check_history(job_id, n)
        self.assertEqual(psql(self.uri, "SELECT count(*) FROM trials WHERE job_id = '%s' AND"
                              " idx IN (%s) AND attempt >= 2" % (
                                  job_id, ",".join(map(str, interrupted)))),
                         [str(len(interrupted))], interrupted)
        self.assertGreaterEqual(sum(metric(self.daemons[x], "fitd_trials_rescued_total")
                                    for x in NAMES), len(interrupted))

        # Every stream on every node saw every event once, ids increasing
        # without a gap up to the last: its reads joined, each read on from
        # the last id of the one before, which the node had ended in error
        # (never cleanly before the job's end); the killed node's first read
        # ended with it. The stored events agree.
        last = int(psql(self.uri, "SELECT last FROM event_counters WHERE job_id = '%s'"
                        % job_id)[0])
        self.assertEqual(psql(self.uri, "SELECT count(*), min(id), max(id) FROM events"
                              " WHERE job_id = '%s'" % job_id), ["%d|1|%d" % (last, last)])
        print("stream reads ended in error: %s" % ", ".join(
            "%s %s" % (x, [e for _, e in streams[x].reads[:-1]]) for x in NAMES), file=sys.stderr)
        for x in NAMES:
            reads = streams[x].reads
            self.assertEqual([e for _, e in reads if e == "end"], ["end"], (x, reads))
            self.assertEqual(reads[-1][1], "end", x)
            self.assertEqual([e[0] for e in streams[x].events()], list(range(1, last + 1)), x)
            self.assertEqual(streams[x].events()[-1][2]["state"], "succeeded")
            self.assertEqual(streams[x].events(), streams[NAMES[0]].events(), x)
        self.assertGreaterEqual(len(streams[killed].reads), 2)

        # Nothing acknowledged is lost: every node answers for the uploads,
        # the job and its events from the first, and is ready, its LISTEN
        # connection back since the restart.
        for x in NAMES:
            d = self.daemons[x]
            for upload in uploads:
                status, _, got = d.request("GET", "/v1/datasets/" + upload)
                self.assertEqual(status, 200, got)
            self.wait_metric(x, "fitd_store_listen_connected", 1)
            status, _, got = d.request("GET", "/readyz")
            self.assertEqual((status, got["store"]["listening"]), (200, True), got)
            status, _, got = d.request("GET", "/v1/jobs/" + job_id)
            self.assertEqual((status, got["state"]), (200, "succeeded"), got)
            self.assertEqual(read_events(d.port, job_id, timeout=30), streams[x].events(), x)

        # The leaderboard is the one the node alone (SQLite) made.
        alone_done = wait_job(alone, alone_job, timeout=300)
        self.assertEqual(alone_done["state"], "succeeded", alone_done)
        print("%d trials on one node alone in %.1f s" % (n, alone_done["progress"]["elapsed_s"]),
              file=sys.stderr)
        self.assertEqual(board(self.daemons[taker], job_id), board(alone, alone_job))

    def test_stop_when_cut_off(self):
        # SIGTERM reaches a node cut from its database while it runs a job:
        # it stops within a connect timeout (its store gives up at once
        # instead of waiting out the reconnect back-off), cleanly, and the
        # job it could not give back goes on elsewhere once its lease expires.
        for n in NAMES[:2]:
            self.node(n)
        a = self.daemons["a"]
        job_id = submit_job(a, dict(SPEC, dataset=upload_table(a, "iris"),
                                    search=dict(SPEC["search"], max_trials=6)))
        first = self.runner(job_id)
        self.running_trial_of(job_id, first)
        self.proxies[first].cut()
        t0 = time.time()
        try:
            rc = self.daemons[first].stop(timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("%s still runs 10 s after SIGTERM\n%s" % (first, self.logs()))
        self.assertEqual(rc, 0, self.logs())
        print("stopped while cut off in %.1f s" % (time.time() - t0), file=sys.stderr)
        self.assertNotIn(b"Sanitizer", self.log_of(first))
        other = next(n for n in NAMES[:2] if n != first)
        self.assertEqual(self.runner(job_id, other_than=first), other)
        job = wait_job(self.daemons[other], job_id, timeout=180)
        self.assertEqual(job["state"], "succeeded", job)


if __name__ == "__main__":
    unittest.main(verbosity=2)
