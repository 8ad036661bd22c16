#!/usr/bin/python3
"""The splits, the fitd side and the table of tests/bench/quality.sh.

    quality.py split DATA OUT
        Splits DATA/NAME.csv 80/20 with train_test_split(test_size=0.2,
        random_state=0, stratify=y for classification) into
        OUT/NAME/train.csv and OUT/NAME/test.csv; the rows are copied as
        they are, so both sides see the same text.
    quality.py fitd URL OUT BUDGET
        Per table, against the fitd at URL: uploads train.csv, submits
        {"dataset", "target", "metric", "search": {"max_seconds": BUDGET,
        "seed": 0}}, polls the job until it ends, and predicts test.csv (the
        target column included: predict ignores extra columns) with the
        best model. Writes OUT/NAME/fitd.json.
    quality.py table OUT
        Scores OUT/NAME/fitd.json and OUT/NAME/optuna.json (written by
        quality_peer.py) against test.csv with one function and prints the
        table. Exits 1 if a side has no result for a table.

Python stdlib, numpy and scikit-learn only.
"""
import csv
import http.client
import json
import math
import os
import sys
import time
import urllib.parse

# name, target column, task, metric
TABLES = [
    ("iris", "species", "classification", "accuracy"),
    ("wine", "cultivar", "classification", "accuracy"),
    ("breast_cancer", "diagnosis", "classification", "accuracy"),
    ("digits", "digit", "classification", "accuracy"),
    ("diabetes", "progression", "regression", "rmse"),
]
TERMINAL = ("succeeded", "failed", "cancelled")


def read_table(path):
    """Header and rows as lists of strings."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_table(path, header, rows):
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    os.replace(path + ".tmp", path)


# ---- split ----

def split(data, out):
    from sklearn.model_selection import train_test_split

    for name, target, task, _ in TABLES:
        header, rows = read_table(os.path.join(data, name + ".csv"))
        t = header.index(target)
        y = [r[t] for r in rows]
        train, test = train_test_split(rows, test_size=0.2, random_state=0,
                                       stratify=y if task == "classification" else None)
        os.makedirs(os.path.join(out, name), exist_ok=True)
        write_table(os.path.join(out, name, "train.csv"), header, train)
        write_table(os.path.join(out, name, "test.csv"), header, test)
        print(f"split {name}: {len(train)} train, {len(test)} test rows, target {target}")


# ---- fitd ----

class Client:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port

    def request(self, method, path, body=None, ctype=None, timeout=120):
        """Returns (status, parsed JSON)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        headers = {}
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            ctype = "application/json"
        if ctype:
            headers["Content-Type"] = ctype
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        return resp.status, json.loads(raw) if raw else None


def run_fitd(c, out, name, target, metric, budget):
    d = os.path.join(out, name)
    with open(os.path.join(d, "train.csv"), "rb") as f:
        status, ds = c.request("POST", "/v1/datasets?name=" + name, f.read(), "text/csv")
    if status != 201:
        raise RuntimeError(f"upload: {status} {ds}")
    spec = {"dataset": ds["id"], "target": target, "metric": metric,
            "search": {"max_seconds": budget, "seed": 0}}
    t0 = time.perf_counter()
    status, job = c.request("POST", "/v1/jobs", spec)
    if status != 201:
        raise RuntimeError(f"submit: {status} {job}")
    deadline = time.time() + 3 * budget + 120
    while job["state"] not in TERMINAL:
        if time.time() > deadline:
            raise RuntimeError(f"job {job['id']} still {job['state']} after {3 * budget + 120} s")
        time.sleep(0.1)
        status, job = c.request("GET", "/v1/jobs/" + job["id"])
        if status != 200:
            raise RuntimeError(f"poll: {status} {job}")
    wall = time.perf_counter() - t0
    if job["state"] != "succeeded" or not job["best"] or not job["best"]["model_id"]:
        raise RuntimeError(f"job {job['id']} ended {job['state']}: {job['error']}")
    model = job["best"]["model_id"]
    with open(os.path.join(d, "test.csv"), "rb") as f:
        status, pred = c.request("POST", f"/v1/models/{model}/predict", f.read(), "text/csv")
    if status != 200:
        raise RuntimeError(f"predict: {status} {pred}")
    return {"wall_s": wall, "trials": job["progress"]["trials_done"], "job": job["id"],
            "model": model, "cv_score": job["best"]["score"], "params": job["best"]["params"],
            "predictions": pred["predictions"]}


def fitd(url, out, budget):
    c = Client(url)
    failed = 0
    for name, target, _, metric in TABLES:
        path = os.path.join(out, name, "fitd.json")
        if os.path.exists(path):
            os.unlink(path)  # never score a stale result
        try:
            res = run_fitd(c, out, name, target, metric, budget)
        except Exception as e:  # noqa: BLE001 - report and go on with the next table
            print(f"fitd {name}: FAILED: {e}", file=sys.stderr)
            failed += 1
            continue
        with open(path, "w") as f:
            json.dump(res, f)
        print(f"fitd {name}: {res['trials']} trials in {res['wall_s']:.1f} s, "
              f"cv {metric} {res['cv_score']:.4f}, model {res['model']}")
    return 1 if failed else 0


# ---- table ----

def same_label(a, b):
    """Labels compare as numbers when both are numbers ("1" == 1.0)."""
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def score(metric, truth, pred):
    if len(pred) != len(truth):
        raise ValueError(f"{len(pred)} predictions for {len(truth)} rows")
    if metric == "accuracy":
        return sum(same_label(t, p) for t, p in zip(truth, pred)) / len(truth)
    return math.sqrt(sum((float(t) - float(p)) ** 2 for t, p in zip(truth, pred)) / len(truth))


def table(out):
    cols = ("dataset", "metric", "fitd", "optuna", "fitd trials", "optuna trials",
            "fitd wall s", "optuna wall s", "winner")
    lines = []
    wins = missing = 0
    for name, target, _, metric in TABLES:
        header, rows = read_table(os.path.join(out, name, "test.csv"))
        truth = [r[header.index(target)] for r in rows]
        res = {}
        for side in ("fitd", "optuna"):
            try:
                with open(os.path.join(out, name, side + ".json")) as f:
                    r = json.load(f)
                r["score"] = score(metric, truth, r["predictions"])
                res[side] = r
            except (OSError, ValueError, KeyError) as e:
                print(f"{side} {name}: no result: {e}", file=sys.stderr)
        if len(res) < 2:
            missing += 1
        f, o = res.get("fitd"), res.get("optuna")
        if f and o:
            better = f["score"] > o["score"] if metric == "accuracy" else f["score"] < o["score"]
            tie = f["score"] == o["score"]
            winner = "tie" if tie else "fitd" if better else "optuna"
            wins += better or tie
        else:
            winner = "-"

        def cell(r, key, fmt):
            return format(r[key], fmt) if r else "-"
        lines.append((name, metric, cell(f, "score", ".4f"), cell(o, "score", ".4f"),
                      cell(f, "trials", "d"), cell(o, "trials", "d"),
                      cell(f, "wall_s", ".1f"), cell(o, "wall_s", ".1f"), winner))

    widths = [max(len(str(x)) for x in col) for col in zip(cols, *lines)]
    for i, line in enumerate([cols] + lines):
        print("  ".join(str(x).ljust(w) if j < 2 or j == 8 else str(x).rjust(w)
                        for j, (x, w) in enumerate(zip(line, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print(f"fitd >= optuna on {wins} of {len(TABLES)} datasets")
    return 1 if missing else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "split":
        split(argv[2], argv[3])
        return 0
    if len(argv) == 5 and argv[1] == "fitd":
        return fitd(argv[2], argv[3], int(argv[4]))
    if len(argv) == 3 and argv[1] == "table":
        return table(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
