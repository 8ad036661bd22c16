"""scaleout.py - run by scaleout.sh beside a private PostgreSQL (FITD_TEST_STORE).

1. The floor: pgbench running the bare claim (a materialized SKIP LOCKED CTE
   and the update, as fitd's queues do) and the fenced completion (WHERE
   id AND attempt AND state) as one script of two commits, with 1, 3 and 6
   clients: pairs per second and the latency of a pair, p50 and p99.
2. fitd: 1, 2 and 3 daemons (one trial thread each) on a fresh database
   run 6 jobs of TRIALS short trials (iris, logistic by L-BFGS, random
   search): trials per second in all, and per trial the claim-to-recorded
   overhead, the time from the trial's claim to its recorded result less
   the fit itself (finished_at - started_at - duration_ms, from the
   leaderboard: whole milliseconds, so a figure is good to about 1 ms), p50
   and p99; and how many of the daemons ran trials. The
   daemons share this machine's cores with each other and the server, so
   compare overhead per trial with the floor, not speed-ups.
3. Submissions per second, PostgreSQL against SQLite: 100 job submissions
   one after another to a daemon that runs one job at a time.
"""
import datetime
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from fitdtest import Daemon, read_data, submit_job, wait_job

PG_BIN = os.environ.get("FITD_PG_BIN", "/usr/lib/postgresql/15/bin")
STORE = os.environ["FITD_TEST_STORE"]
PORT = os.environ["FITD_TEST_PG_PORT"]
SECONDS_PER = int(os.environ.get("SECONDS_PER", "8"))
TRIALS = int(os.environ.get("TRIALS", "200"))
JOBS = 6

FLOOR_SQL = """
CREATE TABLE q (id bigserial PRIMARY KEY, state text NOT NULL DEFAULT 'available',
  attempt int NOT NULL DEFAULT 0, lease_owner text, lease_expires_at timestamptz,
  result text);
CREATE INDEX q_available ON q (id) WHERE state = 'available';
INSERT INTO q (state) SELECT 'available' FROM generate_series(1, 400000);
"""

FLOOR_SCRIPT = r"""WITH c AS MATERIALIZED (SELECT id FROM q WHERE state = 'available' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) UPDATE q SET state = 'running', attempt = q.attempt + 1, lease_owner = 'bench', lease_expires_at = now() + interval '30 seconds' FROM c WHERE q.id = c.id RETURNING q.id AS id, q.attempt AS attempt \gset
UPDATE q SET state = 'completed', result = '{}' WHERE id = :id AND attempt = :attempt AND state = 'running';
"""


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))] if v else float("nan")


def psql(db, sql):
    subprocess.run([PG_BIN + "/psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                    "-p", PORT, "-U", "fitd", "-d", db, "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def createdb(name):
    subprocess.run([PG_BIN + "/createdb", "-h", "127.0.0.1", "-p", PORT, "-U", "fitd", name],
                   check=True)
    return STORE.rsplit("/", 1)[0] + "/" + name


def floor():
    print("== floor: pgbench, claim (SKIP LOCKED CTE + update) and fenced completion,"
          " two commits per pair, %d s per run" % SECONDS_PER)
    createdb("floor")
    psql("floor", FLOOR_SQL)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "claim.sql")
        with open(script, "w") as f:
            f.write(FLOOR_SCRIPT)
        print("  clients  pairs/s   p50 ms   p99 ms")
        for clients in (1, 3, 6):
            logs = os.path.join(tmp, "c%d" % clients)
            os.mkdir(logs)
            subprocess.run([PG_BIN + "/pgbench", "-n", "-h", "127.0.0.1", "-p", PORT, "-U", "fitd",
                            "-c", str(clients), "-j", str(clients), "-T", str(SECONDS_PER),
                            "-f", script, "-l", "--log-prefix", os.path.join(logs, "log"),
                            "floor"], check=True, cwd=tmp, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            lat = []
            for name in os.listdir(logs):
                with open(os.path.join(logs, name)) as f:
                    lat += [int(line.split()[2]) / 1000.0 for line in f if line.strip()]
            rate = len(lat) / SECONDS_PER
            out[clients] = (rate, pct(lat, 50), pct(lat, 99))
            print("  %7d %8.0f %8.2f %8.2f" % (clients, *out[clients]))
    return out


def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000.0


def daemons(n, store, tag):
    ds = []
    for i in range(n):
        d = Daemon(args=("--store", store, "--node", "%s%d" % (tag, i), "--worker-threads", "1",
                         "--rate-limit-ip", "0"))
        d.start()
        ds.append(d)
    return ds


def stop(ds):
    for d in ds:
        d.stop()
        d.cleanup()


def nodes_run(n):
    store = createdb("nodes%d" % n)
    ds = daemons(n, store, "n%d-" % n)
    try:
        status, _, up = ds[0].upload("iris", read_data("iris.csv"))
        assert status == 201, up
        spec = {"dataset": up["id"], "target": "species",
                "space": {"models": ["logistic"], "optimizer": ["lbfgs"]},
                "validation": {"method": "holdout", "fraction": 0.2},
                "search": {"algorithm": "random", "max_trials": TRIALS, "parallel_trials": 1,
                           "refit": False, "seed": 1}}
        start = time.time()
        ids = [submit_job(ds[k % n], dict(spec, search=dict(spec["search"], seed=k + 1)))
               for k in range(JOBS)]
        jobs = [wait_job(ds[0], i, timeout=600) for i in ids]
        wall = time.time() - start
        over, trials = [], 0
        for j in jobs:
            assert j["state"] == "succeeded", j
            status, _, board = ds[0].request("GET", "/v1/jobs/%s/trials?limit=1000" % j["id"])
            for t in board["items"]:
                if t.get("started_at") and t.get("finished_at"):
                    over.append(ts(t["finished_at"]) - ts(t["started_at"]) - t["duration_ms"])
                    trials += 1
        ran = set()
        for d in ds:
            d.stop()
            with open(d.log_path) as f:
                if re.search(r"event=trial_finished|event=job_finished", f.read()):
                    ran.add(d)
        return trials / wall, pct(over, 50), pct(over, 99), len(ran), trials, wall
    finally:
        stop(ds)


def submissions(store):
    ds = daemons(1, store, "s") if store else [Daemon(args=("--rate-limit-ip", "0"))]
    if not store:
        ds[0].start()
    d = ds[0]
    try:
        status, _, up = d.upload("iris", read_data("iris.csv"))
        assert status == 201, up
        spec = {"dataset": up["id"], "target": "species",
                "space": {"models": ["logistic"], "optimizer": ["lbfgs"], "epochs": 5000},
                "search": {"max_trials": 1}}
        lat = []
        for _ in range(100):
            t0 = time.perf_counter()
            submit_job(d, spec)
            lat.append((time.perf_counter() - t0) * 1000.0)
        return 1000.0 / statistics.mean(lat), pct(lat, 50), pct(lat, 99)
    finally:
        stop(ds)


def main():
    fl = floor()
    print("== fitd: %d jobs of %d trials (iris, logistic L-BFGS), one trial thread per daemon"
          % (JOBS, TRIALS))
    print("  daemons  trials/s  overhead p50 ms  p99 ms  daemons that ran trials"
          "  p99 / floor p99 (1 client for 1 daemon, 3 for 2 and 3)")
    for n in (1, 2, 3):
        rate, p50, p99, ran, trials, wall = nodes_run(n)
        ref = fl[1 if n == 1 else 3][2]
        print("  %7d %9.1f %16.2f %7.2f %24d %12.2f   (%d trials in %.1f s)"
              % (n, rate, p50, p99, ran, p99 / ref, trials, wall))
    print("== submissions, 100 one after another (ms)")
    print("  store        per s   p50 ms   p99 ms")
    for name, store in (("postgresql", createdb("submit")), ("sqlite", None)):
        print("  %-10s %7.0f %8.2f %8.2f" % (name, *submissions(store)))
    print("goal: fitd's overhead p99 <= 1.5 x the floor's p99")


if __name__ == "__main__":
    sys.exit(main())
