"""What fitd tells systemd: READY=1, STATUS= with the same facts as GET
/readyz and GET /metrics (the disk use too), and watchdog pings that stop while a trial is
stuck. The test plays systemd's side of the notify socket."""

import os
import re
import socket
import tempfile
import threading
import time
import unittest

from fitdtest import Daemon, wait_job
from test_jobs import submit, upload
from test_metrics import Scrape

# A trial's sign of progress is its poll for a stop, once per chunk of 256
# rows; through three 4096-wide layers a chunk takes seconds here, longer
# than --watchdog-stall-s 1.
STUCK_SPACE = {
    "models": ["mlp"], "optimizer": ["adam"], "batch_size": [512], "epochs": 3,
    "regularization": ["none"], "mlp": {"hidden_layers": [3], "units": [4096]},
}
STATUS_RE = re.compile(
    r"STATUS=(\w+) on [\d.]+:\d+; jobs (\d+) queued, (\d+) running; trials (\d+) queued, "
    r"(\d+) running; queue depth (\d+); trial threads (\d+) busy of (\d+); event streams (\d+); "
    r"disk [\d.]+ MiB database, ([\d.]+) MiB datasets, ([\d.]+) MiB models$")


def mib(n):
    """Bytes as STATUS= writes them: MiB with one decimal (the database's, which grows
    with every write, is not compared)."""
    return "%.1f" % (float(n) / 1048576)


class NotifySocket:
    """A datagram socket standing in for systemd's; records every message."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fitd-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.lock = threading.Lock()
        self.messages = []  # (time, line)
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            now = time.time()
            with self.lock:
                self.messages += [(now, line) for line in data.decode().split("\n") if line]

    def lines(self, prefix, since=0.0):
        with self.lock:
            return [(t, m) for t, m in self.messages if m.startswith(prefix) and t >= since]

    def wait(self, prefix, since=0.0, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.lines(prefix, since)
            if got:
                return got[0]
            time.sleep(0.05)
        raise AssertionError("no %s message after %.1f" % (prefix, since))

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


class Status(unittest.TestCase):
    def setUp(self):
        self.notify = NotifySocket()
        # WATCHDOG_USEC=1 s: fitd pings every 0.5 s.
        self.d = Daemon(args=["--worker-threads", "1", "--watchdog-stall-s", "1"],
                        env={"NOTIFY_SOCKET": self.notify.path, "WATCHDOG_USEC": "1000000"})
        self.d.start()

    def tearDown(self):
        self.d.cleanup()
        self.notify.close()

    def facts(self):
        """GET /readyz as the tuple STATUS= spells."""
        status, _, r = self.d.request("GET", "/readyz")
        self.assertEqual(status, 200, r)
        return (r["status"], r["jobs"]["queued"], r["jobs"]["running"], r["trials"]["queued"],
                r["trials"]["running"], r["queue_depth"], r["trial_threads"]["busy"],
                r["trial_threads"]["total"], r["event_streams"], mib(r["disk"]["datasets"]),
                mib(r["disk"]["models"]))

    def metrics_facts(self):
        """The same facts from GET /metrics."""
        status, _, text = self.d.request("GET", "/metrics")
        self.assertEqual(status, 200)
        s = Scrape(text.decode())
        busy = int(s.value("fitd_trial_threads", state="busy"))
        return ("ready", int(s.value("fitd_jobs", state="queued")),
                int(s.value("fitd_jobs", state="running")),
                int(s.value("fitd_trials", state="queued")),
                int(s.value("fitd_trials", state="running")), int(s.value("fitd_queue_depth")),
                busy, busy + int(s.value("fitd_trial_threads", state="idle")),
                int(s.value("fitd_event_streams")),
                mib(s.value("fitd_state_bytes", kind="datasets")),
                mib(s.value("fitd_state_bytes", kind="models")))

    def status_agrees(self, since):
        """Some STATUS= line sent after `since` equals /readyz and /metrics
        read right after it (a trial may finish in between; three tries)."""
        seen = []
        for _ in range(3):
            t, line = self.notify.wait("STATUS=", since)
            m = STATUS_RE.match(line)
            self.assertIsNotNone(m, line)
            got = (m.group(1),) + tuple(int(g) for g in m.groups()[1:-2]) + m.groups()[-2:]
            ready, metrics = self.facts(), self.metrics_facts()
            if got == ready == metrics:
                return got
            seen.append((got, ready, metrics))
            since = t + 0.001
        self.fail("STATUS=, /readyz and /metrics disagree: %r" % seen)

    def test_status_readyz_and_metrics_agree_and_the_watchdog_follows_progress(self):
        start = self.notify.wait("READY=1")[0]
        idle = self.status_agrees(start)
        self.assertEqual(idle, ("ready", 0, 0, 0, 0, 0, 0, 1, 0, "0.0", "0.0"))
        self.notify.wait("WATCHDOG=1", start)

        ds = upload(self.d, "digits")
        status, _, stuck = submit(self.d, {
            "dataset": ds, "target": "digit", "space": STUCK_SPACE,
            "validation": {"method": "holdout", "fraction": 0.2},
            "search": {"max_trials": 2, "threads_per_trial": 1}})
        self.assertEqual(status, 201, stuck)
        # A second job waits for the only thread.
        status, _, waiting = submit(self.d, {
            "dataset": ds, "target": "digit", "space": {"models": ["logistic"]},
            "search": {"max_trials": 1}})
        self.assertEqual(status, 201, waiting)

        # While the first epoch runs, nothing changes: the facts agree, the
        # trial counts as running and the thread as busy.
        t0 = time.time()
        busy = self.status_agrees(t0 + 0.5)
        self.assertEqual(busy[2], 2, busy)  # both jobs running
        self.assertEqual(busy[4], 1, busy)  # one trial on the thread
        self.assertEqual(busy[6:8], (1, 1), busy)
        self.assertGreaterEqual(busy[5], 1, busy)  # the other job's trial waits

        # Whenever the trial has been silent for over a second, the pings
        # stop (every 0.5 s otherwise).
        # The window's ends count as pings: a gap may still be open.
        time.sleep(max(0.0, t0 + 10 - time.time()))
        pings = [t0] + [t for t, _ in self.notify.lines("WATCHDOG=1", t0)] + [time.time()]
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertGreater(max(gaps), 1.2, "pinged while a trial was silent: %r" % gaps)
        job = self.d.request("GET", "/v1/jobs/" + stuck["id"])[2]
        self.assertEqual(job["progress"]["trials_done"], 0, "the epoch ended early: %r" % job)

        # Cancelled, the trial stops; the other job runs; pings resume.
        self.d.request("POST", "/v1/jobs/%s/cancel" % stuck["id"])
        cancelled_at = time.time()
        self.assertEqual(wait_job(self.d, stuck["id"])["state"], "cancelled")
        self.assertEqual(wait_job(self.d, waiting["id"])["state"], "succeeded")
        self.notify.wait("WATCHDOG=1", cancelled_at)
        done = self.status_agrees(time.time())
        self.assertEqual(done[1:5], (0, 0, 0, 0), done)

        with open(self.d.log_path, "rb") as f:
            log = f.read().decode()
        self.assertIn("event=watchdog_withheld", log)
        self.assertIn("event=watchdog_resumed", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
