"""GET /metrics against the real binary: the Prometheus text format, the
job and trial counts, request counters by route pattern (unknown paths under
route="other"), cumulative histograms, the live gauges while trials run, and
promtool's own check of the text. promtool comes from Debian's prometheus
package (deploy/deps.sh test installs it); without it the test fails."""

import http.client
import math
import re
import shutil
import subprocess
import time
import unittest

from fitdtest import DaemonTest, read_data, wait_job

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

FAMILIES = {
    "fitd_jobs": "gauge",
    "fitd_trials": "gauge",
    "fitd_trial_duration_seconds": "histogram",
    "fitd_queue_depth": "gauge",
    "fitd_trial_threads": "gauge",
    "fitd_http_requests_total": "counter",
    "fitd_http_request_duration_seconds": "histogram",
    "fitd_event_streams": "gauge",
    "fitd_store_write_duration_seconds": "histogram",
    "fitd_state_bytes": "gauge",
    "fitd_lease_losses_total": "counter",
    "fitd_trials_rescued_total": "counter",
    "fitd_stale_writes_refused_total": "counter",
    "process_resident_memory_bytes": "gauge",
}
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
TRIAL_STATES = ("queued", "running", "completed", "pruned", "failed", "timeout", "interrupted")

# Many epochs of a wide network on digits: trials that run until cancelled.
SLOW_SPACE = {
    "models": ["mlp"], "optimizer": ["sgd"], "learning_rate": [0.001], "batch_size": [16],
    "epochs": 100000, "mlp": {"hidden_layers": [2], "units": [256]},
}

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Scrape:
    """One parsed exposition: HELP and TYPE per family, and the samples."""

    def __init__(self, text):
        self.text = text
        self.help, self.type, self.samples = {}, {}, []
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, _, help_text = line[7:].partition(" ")
                self.help[name] = help_text
            elif line.startswith("# TYPE "):
                name, _, kind = line[7:].partition(" ")
                self.type[name] = kind
            elif line and not line.startswith("#"):
                m = SAMPLE.match(line)
                assert m, "not a sample line: %r" % line
                labels = tuple(LABEL.findall(m.group(2) or ""))
                self.samples.append((m.group(1), labels, float(m.group(3))))

    def value(self, name, **labels):
        """The sample's value; None when the series is absent."""
        want = sorted(labels.items())
        for n, ls, v in self.samples:
            if n == name and sorted(ls) == want:
                return v
        return None

    def requests(self, route, method, status):
        return self.value("fitd_http_requests_total", route=route, method=method,
                          status=str(status)) or 0


class MetricsTest(DaemonTest):
    daemon_args = ("--worker-threads", "2")

    def scrape(self):
        status, headers, body = self.d.request("GET", "/metrics")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["content-type"], CONTENT_TYPE)
        self.assertIsInstance(body, bytes)
        return Scrape(body.decode("utf-8"))

    def scrape_until(self, ok, timeout=10):
        """Scrapes until ok(scrape) holds (gauges are sampled by the scheduler's passes)."""
        deadline = time.time() + timeout
        while True:
            s = self.scrape()
            if ok(s) or time.time() > deadline:
                return s
            time.sleep(0.05)

    def upload(self, name):
        status, _, ds = self.d.upload(name, read_data(name + ".csv"))
        self.assertEqual(status, 201, ds)
        return ds["id"]

    def submit(self, spec):
        status, _, job = self.d.request("POST", "/v1/jobs", body=spec)
        self.assertEqual(status, 201, job)
        return job

    def check_families(self, s):
        for name, kind in FAMILIES.items():
            self.assertIn(name, s.help, "no HELP for " + name)
            self.assertTrue(s.help[name], "empty HELP for " + name)
            self.assertEqual(s.type.get(name), kind, "TYPE of " + name)
        for state in JOB_STATES:
            self.assertIsNotNone(s.value("fitd_jobs", state=state), state)
        for state in TRIAL_STATES:
            self.assertIsNotNone(s.value("fitd_trials", state=state), state)
        for state in ("busy", "idle"):
            self.assertIsNotNone(s.value("fitd_trial_threads", state=state), state)
        for name in ("fitd_queue_depth", "fitd_event_streams", "process_resident_memory_bytes"):
            self.assertIsNotNone(s.value(name), name)
        # One daemon on SQLite never loses a lease nor has a write refused.
        for name in ("fitd_lease_losses_total", "fitd_trials_rescued_total",
                     "fitd_stale_writes_refused_total"):
            self.assertEqual(s.value(name), 0, name)
        self.assertGreater(s.value("process_resident_memory_bytes"), 1 << 20)
        for kind in ("database", "datasets", "models"):
            self.assertIsNotNone(s.value("fitd_state_bytes", kind=kind), kind)
        self.assertGreater(s.value("fitd_state_bytes", kind="database"), 0)

    def check_histograms(self, s):
        """Every histogram series: le ascending, counts cumulative, +Inf last and = _count."""
        checked = 0
        for family, kind in s.type.items():
            if kind != "histogram":
                continue
            series = {}
            for name, labels, value in s.samples:
                if name == family + "_bucket":
                    key = tuple(l for l in labels if l[0] != "le")
                    le = dict(labels)["le"]
                    series.setdefault(key, []).append((le, value))
            self.assertTrue(series or family == "fitd_http_request_duration_seconds", family)
            for key, buckets in series.items():
                les = [float(le) for le, _ in buckets]
                counts = [v for _, v in buckets]
                self.assertEqual(buckets[-1][0], "+Inf", (family, key))
                self.assertEqual(les, sorted(les), (family, key))
                self.assertEqual(len(set(les)), len(les), (family, key))
                self.assertTrue(all(a <= b for a, b in zip(counts, counts[1:])),
                                (family, key, counts))
                labels = dict(key)
                self.assertEqual(s.value(family + "_count", **labels), counts[-1], (family, key))
                total = s.value(family + "_sum", **labels)
                self.assertIsNotNone(total, (family, key))
                self.assertTrue(total >= 0 and math.isfinite(total), (family, key, total))
                checked += 1
        self.assertGreaterEqual(checked, 3)

    def check_promtool(self, s):
        promtool = shutil.which("promtool")
        if promtool is None:
            self.fail("promtool is not installed: deploy/deps.sh test installs it "
                      "(Debian package prometheus)")
        r = subprocess.run([promtool, "check", "metrics"], input=s.text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, out)
        self.assertEqual(out.strip(), "", out)

    def test_counts_requests_and_histograms_after_a_job(self):
        ds = self.upload("iris")
        job = self.submit({
            "dataset": ds, "target": "species",
            "space": {"models": ["logistic"], "optimizer": ["lbfgs"], "epochs": 100},
            "search": {"algorithm": "random", "max_trials": 3, "seed": 1},
            "validation": {"method": "cv", "folds": 3}})
        job = wait_job(self.d, job["id"])
        self.assertEqual(job["state"], "succeeded", job)
        ran = job["progress"]["trials_done"]
        self.assertEqual(ran, 3)

        # The baseline, once the scheduler has let go of every thread.
        before = self.scrape_until(lambda s: s.value("fitd_trial_threads", state="busy") == 0)
        self.assertEqual(self.d.request("GET", "/healthz")[0], 200)
        self.assertEqual(self.d.request("GET", "/healthz")[0], 200)
        self.assertEqual(self.d.request("GET", "/v1/jobs/" + job["id"])[0], 200)
        self.assertEqual(self.d.request("GET", "/v1/datasets")[0], 200)
        self.assertError(self.d.request("GET", "/no/such/path-" + job["id"]), 404, "not_found")
        self.assertError(self.d.request("PUT", "/v1/jobs/" + job["id"]), 405,
                         "method_not_allowed")
        after = self.scrape()

        self.check_families(after)
        self.assertEqual(after.value("fitd_jobs", state="succeeded"), 1)
        for state in ("queued", "running", "failed", "cancelled"):
            self.assertEqual(after.value("fitd_jobs", state=state), 0, state)
        self.assertEqual(after.value("fitd_trials", state="completed"), ran)
        self.assertEqual(sum(after.value("fitd_trials", state=st) for st in TRIAL_STATES), ran)

        # Deltas between the two scrapes; the first scrape itself counts too.
        for route, method, status, n in [
                ("/healthz", "GET", 200, 2),
                ("/v1/jobs/{id}", "GET", 200, 1),
                ("/v1/datasets", "GET", 200, 1),
                ("other", "GET", 404, 1),
                ("/v1/jobs/{id}", "PUT", 405, 1),
                ("/metrics", "GET", 200, 1)]:
            self.assertEqual(after.requests(route, method, status)
                             - before.requests(route, method, status), n,
                             (route, method, status))
        # Raw paths never become labels: ids and unknown paths stay out.
        for _, labels, _ in after.samples:
            for key, value in labels:
                self.assertNotIn(job["id"], value, (key, value))
                self.assertNotIn("/no/such", value, (key, value))
        self.assertGreaterEqual(
            after.value("fitd_http_request_duration_seconds_count", route="/healthz"), 2)
        self.assertGreaterEqual(
            after.value("fitd_http_request_duration_seconds_count", route="other"), 1)

        # Each trial ran on a thread and finished once; the refit is not a trial.
        self.assertEqual(after.value("fitd_trial_duration_seconds_count"), ran)
        self.assertGreater(after.value("fitd_store_write_duration_seconds_count"), 0)
        self.assertEqual(after.value("fitd_trial_threads", state="busy"), 0)
        self.assertEqual(after.value("fitd_trial_threads", state="idle"), 2)
        self.assertEqual(after.value("fitd_queue_depth"), 0)
        self.assertEqual(after.value("fitd_event_streams"), 0)
        self.check_histograms(after)
        self.check_promtool(after)

    def test_live_gauges_while_trials_run(self):
        ds = self.upload("digits")
        spec = {"dataset": ds, "target": "digit", "space": SLOW_SPACE, "early_stopping": False,
                "search": {"algorithm": "random", "max_trials": 5}}
        first = self.submit(spec)
        wait_job(self.d, first["id"], states=("running",),
                      until=lambda j: j["progress"]["trials_running"] == 2)
        # Both threads are taken: the second job's next trial waits in the queue.
        second = self.submit(spec)
        wait_job(self.d, second["id"], states=("running",))
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=30)
        try:
            conn.request("GET", "/v1/jobs/%s/events" % first["id"])
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertTrue(resp.readline().startswith(b"retry:"))
            live = self.scrape_until(lambda s: s.value("fitd_queue_depth") == 1)
            self.check_families(live)
            self.assertEqual(live.value("fitd_event_streams"), 1)
            self.assertEqual(live.value("fitd_queue_depth"), 1)
            self.assertEqual(live.value("fitd_trial_threads", state="busy"), 2)
            self.assertEqual(live.value("fitd_trial_threads", state="idle"), 0)
            self.assertEqual(live.value("fitd_jobs", state="running"), 2)
            self.assertEqual(live.value("fitd_trials", state="running"), 2)
            self.assertEqual(live.value("fitd_trial_duration_seconds_count"), 0)
            self.check_promtool(live)
            # The waiting job first, so the threads the other gives back stay idle.
            for job in (second, first):
                status, _, j = self.d.request("POST", "/v1/jobs/%s/cancel" % job["id"])
                self.assertEqual(status, 202, j)
            for job in (first, second):
                self.assertEqual(wait_job(self.d, job["id"], timeout=30)["state"], "cancelled")
            resp.read()  # the stream ends after the terminal event
        finally:
            conn.close()
        done = self.scrape_until(lambda s: s.value("fitd_event_streams") == 0)
        self.assertEqual(done.value("fitd_event_streams"), 0)
        self.assertEqual(done.value("fitd_jobs", state="cancelled"), 2)
        self.assertEqual(done.value("fitd_trials", state="interrupted"), 2)
        # Interrupted trials ran and finished, so they are observed.
        self.assertEqual(done.value("fitd_trial_duration_seconds_count"), 2)
        self.assertEqual(done.value("fitd_trial_threads", state="busy"), 0)
        self.assertEqual(done.value("fitd_queue_depth"), 0)
        self.check_histograms(done)
        self.check_promtool(done)


if __name__ == "__main__":
    unittest.main(verbosity=2)
