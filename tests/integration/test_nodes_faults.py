"""Network and database faults under several nodes (run beside
tests/pg/pgserver.sh, like test_nodes.py): three daemons with a 2 s lease
share one PostgreSQL, each through a TCP proxy of its own (socat), during
one search of a few dozen short trials:

1. the proxy of the node running the job is cut (socat killed, its
   connections with it) for longer than the lease: another node takes the
   job over; once the proxy is back the cut-off node's late writes are
   refused and counted, and it drops the job;
2. every database connection of the node now running it, its pool's and
   its LISTEN connection, is terminated (pg_terminate_backend), three
   times in a row: it opens them again and goes on, its lease kept;
3. PostgreSQL is restarted (pg_ctl restart -m immediate) under the three
   nodes: the search still finishes.

Checked over the whole history, as test_nodes.py does: every trial ended
once, in one terminal state with one result and one trial_finished event;
the refused stale writes are in /metrics; a stream on a node that never ran
the job saw gap-free increasing ids up to the last event; the uploads (one
acknowledged just before the restart), the job and every event are still
there on every node, and every node is ready again, listening.

Every daemon and every proxy is stopped whatever happens."""

import ctypes
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
from test_pg import STORE, PSQL, new_database, psql, stop_cleanly
from test_nodes import LEASE_MS, NodesTest, metric

SPEC = {
    "target": "species",
    "space": {"models": ["logistic"], "optimizer": ["adam"], "epochs": 12000},
    "early_stopping": False,
    "validation": {"method": "cv", "folds": 3},
    "search": {"algorithm": "random", "max_trials": 40, "seed": 5, "parallel_trials": 1},
}
NAMES = ("a", "b", "c")


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


@unittest.skipUnless(STORE, "FITD_TEST_STORE is not set: run under tests/pg/pgserver.sh")
class NodeFaults(NodesTest):
    def setUp(self):
        # SIGTERM (pgserver.sh's, meson's) fails the test, so tearDown runs.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit("SIGTERM"))
        self.uri = new_database()
        self.daemons = {}
        self.proxies = {}

    def tearDown(self):
        try:
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

    def test_cut_terminate_restart(self):
        for n in NAMES:
            self.node(n)
        a = self.daemons["a"]
        ds = upload_table(a, "iris")
        job_id = submit_job(a, dict(SPEC, dataset=ds))
        first = self.runner(job_id)
        # The stream is read on a node that never runs the job (the cut one
        # has lost it, and the next one is not cut), from start to end.
        self.wait_done(job_id, 2)
        self.running_trial_of(job_id, first)

        # (1) Cut the runner's proxy past its lease: another node takes over.
        self.proxies[first].cut()
        t0 = time.time()
        second = self.runner(job_id, other_than=first)
        print("take-over after the cut: %.1f s (lease %d ms)" % (time.time() - t0, LEASE_MS),
              file=sys.stderr)
        watcher = next(n for n in NAMES if n not in (first, second))
        seen = []
        reader = threading.Thread(target=lambda: seen.extend(
            read_events(self.daemons[watcher].port, job_id, timeout=180)), daemon=True)
        reader.start()
        time.sleep(LEASE_MS / 1000)
        self.proxies[first].start()
        # Back on the network, its writes under the old lease are refused.
        self.wait_metric(first, "fitd_lease_losses_total", 1)
        self.wait_metric(first, "fitd_stale_writes_refused_total", 1)
        self.assertIn(b"event=job_lease_lost job=" + job_id.encode() + b" node=" +
                      first.encode(), self.log_of(first))
        self.assertEqual(self.runner(job_id), second)

        # (2) Terminate every connection of the runner, three times: it opens
        # them again (the LISTEN one too) and goes on, keeping its lease.
        self.wait_done(job_id, self.done(job_id) + 2)
        self.running_trial_of(job_id, second)
        print("connections terminated after %d trials" % self.done(job_id), file=sys.stderr)
        reconnects = self.log_of(second).count(b"event=store_reconnected")
        listens = metric(self.daemons[second], "fitd_store_listen_reconnects_total")
        untouched = metric(self.daemons[watcher], "fitd_store_listen_reconnects_total")
        killed = self.terminate(second)
        print("terminated: %s" % killed, file=sys.stderr)
        self.assertEqual(killed.get("fitd-listen"), 1, killed)
        self.assertGreater(killed.get("fitd-" + second, 0), 0, killed)
        for _ in range(2):
            time.sleep(0.3)
            self.terminate(second)
        self.wait_done(job_id, self.done(job_id) + 2)
        self.assertGreater(self.log_of(second).count(b"event=store_reconnected"), reconnects)
        self.wait_metric(second, "fitd_store_listen_reconnects_total", listens + 1)
        self.wait_metric(second, "fitd_store_listen_connected", 1)
        self.assertEqual(metric(self.daemons[second], "fitd_lease_losses_total"), 0)
        # Only the runner's LISTEN connection was terminated, not another node's.
        self.assertEqual(metric(self.daemons[watcher], "fitd_store_listen_reconnects_total"),
                         untouched)

        # (3) Restart PostgreSQL under the three: the search finishes.
        before = self.done(job_id)
        self.assertLess(before, SPEC["search"]["max_trials"] - 2, "the search ended too soon")
        # An upload acknowledged just before the restart outlives it.
        late = upload_table(self.daemons[watcher], "iris")
        self.restart_server()
        print("server restarted after %d trials" % before, file=sys.stderr)
        job = wait_job(self.daemons[watcher], job_id, timeout=180)
        self.assertEqual(job["state"], "succeeded", job)
        reader.join(60)
        self.assertFalse(reader.is_alive())

        # Every trial ended once: one terminal state, one result, one trial_finished.
        n = SPEC["search"]["max_trials"]
        self.assertEqual(job["progress"]["trials_done"], n)
        self.check_history(job_id, n)
        self.assertGreaterEqual(sum(metric(self.daemons[x], "fitd_trials_rescued_total")
                                    for x in NAMES), 1)

        # The stream saw every event, ids without a gap; the stored events too.
        last = int(psql(self.uri, "SELECT last FROM event_counters WHERE job_id = '%s'"
                        % job_id)[0])
        self.assertEqual([e[0] for e in seen], list(range(1, last + 1)))
        self.assertEqual(seen[-1][2]["state"], "succeeded")
        self.assertEqual(psql(self.uri, "SELECT count(*), min(id), max(id) FROM events"
                              " WHERE job_id = '%s'" % job_id), ["%d|1|%d" % (last, last)])

        # Nothing acknowledged is lost: every node answers for the uploads,
        # the job and its events from the first, and is ready, its LISTEN
        # connection back since the restart.
        for x in NAMES:
            d = self.daemons[x]
            for upload in (ds, late):
                status, _, got = d.request("GET", "/v1/datasets/" + upload)
                self.assertEqual(status, 200, got)
            self.wait_metric(x, "fitd_store_listen_connected", 1)
            status, _, got = d.request("GET", "/readyz")
            self.assertEqual((status, got["store"]["listening"]), (200, True), got)
            status, _, got = d.request("GET", "/v1/jobs/" + job_id)
            self.assertEqual((status, got["state"]), (200, "succeeded"), got)
            again = read_events(d.port, job_id, timeout=30)
            self.assertEqual([e[0] for e in again], list(range(1, last + 1)))

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
