#!/usr/bin/python3
"""fit_job.py ADDR CSV - one fixed-setting logistic job end to end through
the API, for tests/bench/fit_bench.sh: uploads CSV (its last column,
"target", is the class; not timed), then submits the same job twice, with
search.refit false and true, and times each from the submit to the job's
success (its model stored), polling every 10 ms; the best of 3 each, as
scikit-learn's bare fit is timed. Prints "key value" lines: job_seconds
(refit false), job_refit_seconds (refit true), and the trial's own
duration_ms in each (trial_ms, refit_trial_ms)."""
import http.client
import json
import sys
import time

SPACE = {"models": ["logistic"], "optimizer": ["newton"], "regularization": ["l2"],
         "penalty": [1e-5]}


def request(addr, method, path, body=None, ctype="application/json"):
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=600)
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    conn.request(method, path, body=body, headers={"Content-Type": ctype} if body else {})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return resp.status, data


def run_job(addr, ds, refit):
    spec = {"dataset": ds, "target": "target", "task": "classification", "space": SPACE,
            "early_stopping": False, "validation": {"method": "holdout", "fraction": 0.2},
            "search": {"max_trials": 1, "refit": refit}}
    t0 = time.perf_counter()
    status, job = request(addr, "POST", "/v1/jobs", spec)
    assert status == 201, job
    while job["state"] not in ("succeeded", "failed", "cancelled"):
        time.sleep(0.01)
        status, job = request(addr, "GET", "/v1/jobs/" + job["id"])
        assert status == 200, job
    secs = time.perf_counter() - t0
    assert job["state"] == "succeeded" and job["best"]["model_id"], job
    status, trials = request(addr, "GET", "/v1/jobs/%s/trials" % job["id"])
    return secs, trials["items"][0]["duration_ms"]


def main():
    addr, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        status, ds = request(addr, "POST", "/v1/datasets?name=bench", f.read(), "text/csv")
    assert status == 201, ds
    # The best of 3 each (as the peer's fit), alternating: the first job
    # also loads the table.
    runs = {False: [], True: []}
    for _ in range(3):
        for refit in (False, True):
            runs[refit].append(run_job(addr, ds["id"], refit))
    secs, trial_ms = min(runs[False])
    rsecs, rtrial_ms = min(runs[True])
    print("job_seconds %.4f" % secs)
    print("trial_ms %d" % trial_ms)
    print("job_refit_seconds %.4f" % rsecs)
    print("refit_trial_ms %d" % rtrial_ms)


if __name__ == "__main__":
    main()
