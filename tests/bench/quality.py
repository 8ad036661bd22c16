#!/usr/bin/python3
"""The tables, the splits, the fitd side and the printed tables of
tests/bench/quality.sh and tests/bench/families.sh.

    quality.py split OUT
        Splits every table of TABLES 80/20 with train_test_split(
        test_size=0.2, random_state=0, stratify=y for classification) into
        OUT/NAME/train.csv and OUT/NAME/test.csv; the rows are copied as
        they are, so every side sees the same text. "large" is generated
        (gen_large) straight into its two files, once per OUT.
    quality.py fitd URL OUT BUDGET [TAG]
        Per table, against the fitd at URL: uploads train.csv, submits
        {"dataset", "target", "task", "metric", "search": {"max_seconds":
        BUDGET, "seed": 0}} ("large": LARGE_BUDGET), polls the job until it
        ends, predicts test.csv (in chunks) with the best model. Writes
        OUT/NAME/fitd.json (fitd_TAG.json with TAG; the budgets sweep
        passes its budget as TAG and runs the small tables only).
    quality.py families-fitd URL OUT
        Per table and family: {"space": {"models": [FAMILY]}, "search":
        {"max_trials": 8, "seed": 0}}. A refused spec (gbdt before the
        daemon has it) is recorded with its answer and skipped.
        Writes OUT/NAME/fam_fitd_FAMILY.json.
    quality.py table OUT BUDGET        the quality table (fitd, optuna, xgboost)
    quality.py sweep OUT BUDGET...     the budgets-sweep table
    quality.py families OUT            the family table
        Score every side's test predictions with one function (score) and
        print. Exit 1 when fitd has no result for some table (a peer
        without a result prints as missing, and the rest still prints).

Environment: QUALITY_TABLES="iris wine ..." restricts the tables (every
subcommand); LARGE_BUDGET (default 60) is the large table's budget, for
fitd and for its peers; LARGE_ROWS (default 1000000) its size.

Python stdlib, numpy and scikit-learn only (pandas-free, so the fitd side
runs where only the daemon's own test dependencies are).
"""
import csv
import gzip
import hashlib
import http.client
import io
import json
import math
import os
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
QD = "tests/bench/quality_data/"

# name, file under the repository (None: generated), target, task, metric.
# SOURCES.md (beside the files) says where each comes from and its license.
ALL_TABLES = [
    ("iris", "tests/data/iris.csv", "species", "classification", "accuracy"),
    ("wine", "tests/data/wine.csv", "cultivar", "classification", "accuracy"),
    ("breast_cancer", "tests/data/breast_cancer.csv", "diagnosis", "classification", "accuracy"),
    ("digits", "tests/data/digits.csv", "digit", "classification", "accuracy"),
    ("diabetes", "tests/data/diabetes.csv", "progression", "regression", "rmse"),
    ("penguins", QD + "penguins.csv.gz", "species", "classification", "accuracy"),
    ("birthwt", QD + "birthwt.csv.gz", "low", "classification", "accuracy"),
    ("cps1985", QD + "cps1985.csv.gz", "wage", "regression", "rmse"),
    ("sacramento", QD + "sacramento.csv.gz", "price", "regression", "rmse"),
    ("concrete", QD + "concrete.csv.gz", "compressive_strength", "regression", "rmse"),
    ("attrition", QD + "attrition.csv.gz", "Attrition", "classification", "accuracy"),
    ("ames", QD + "ames.csv.gz", "Sale_Price", "regression", "rmse"),
    ("credit_data", QD + "credit_data.csv.gz", "Status", "classification", "accuracy"),
    ("hpc_data", QD + "hpc_data.csv.gz", "class", "classification", "accuracy"),
    ("mlc_churn", QD + "mlc_churn.csv.gz", "churn", "classification", "accuracy"),
    ("wa_churn", QD + "wa_churn.csv.gz", "churn", "classification", "accuracy"),
    ("diamonds", QD + "diamonds.csv.gz", "price", "regression", "rmse"),
    ("fertility", QD + "fertility.csv.gz", "morekids", "classification", "accuracy"),
    ("large", None, "target", "classification", "accuracy"),
]
TERMINAL = ("succeeded", "failed", "cancelled")
SMALL_TRAIN_ROWS = 1000          # the budgets sweep runs tables with fewer
FAMILY_TRIALS = 8
RMSE_TIE = 0.005                 # relative: within 0.5% is a tie
BOOTSTRAP = 1000                 # resamples of the test rows for "sure"
PREDICT_CHUNK = 50000            # rows per predict request
# the daemon's missing-value tokens (README "Datasets"); an empty field too
MISSING = {"", "NA", "N/A", "n/a", "#N/A", "?", "NaN", "nan", "NULL", "null"}


def tables():
    only = os.environ.get("QUALITY_TABLES", "").split()
    return [t for t in ALL_TABLES if not only or t[0] in only]


def budget_of(name, budget):
    return int(os.environ.get("LARGE_BUDGET", "60")) if name == "large" else budget


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def read_table(path):
    """Header and rows as lists of strings (.csv or .csv.gz)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_table(path, header, rows):
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    os.replace(path + ".tmp", path)


def test_truth(out, name, target):
    header, rows = read_table(os.path.join(out, name, "test.csv"))
    t = header.index(target)
    return [r[t] for r in rows]


def train_rows(out, name):
    with open(os.path.join(out, name, "train.csv"), "rb") as f:
        return sum(1 for _ in f) - 1


# ---- the generated large table ----

LARGE_VERSION = "large-v1"


def gen_large(d, rows):
    """A Higgs-like binary table, rows x 28, seeded (numpy PCG64, seed 0).

    21 "low-level" columns, in HIGGS's order: a lepton's transverse momentum
    (log-normal), pseudo-rapidity (normal) and angle (uniform on -pi..pi),
    a missing-energy magnitude and angle, and 4 jets' momentum, rapidity,
    angle and tag (0 to 3, an integer); 7 "high-level" columns, nonlinear functions of those
    (invariant-mass-like products of momenta and cosh/cos of differences),
    each with noise. The label is Bernoulli(sigmoid(z)) with z built from
    interactions only a nonlinear model recovers: products of momenta, the
    cosine of angle differences, a bump in one mass, a tag threshold. About
    half the rows are positive and the Bayes accuracy is well below 1.
    """
    import numpy as np
    from sklearn.model_selection import train_test_split

    g = np.random.default_rng(0)
    n = rows
    pt = g.lognormal(0.0, 0.5, size=(n, 5))      # 0: the lepton, 1-4: jets
    eta = g.normal(0.0, 1.2, size=(n, 5))
    phi = g.uniform(-np.pi, np.pi, size=(n, 5))
    met = g.lognormal(-0.2, 0.6, size=n)
    met_phi = g.uniform(-np.pi, np.pi, size=n)
    tag = g.integers(0, 4, size=(n, 4)).astype(float)

    def mass(i, j):
        return np.sqrt(2 * pt[:, i] * pt[:, j] *
                       np.maximum(np.cosh(eta[:, i] - eta[:, j]) - np.cos(phi[:, i] - phi[:, j]), 0))

    m01, m23, m02 = mass(0, 1), mass(2, 3), mass(0, 2)
    m_lv = np.sqrt(2 * pt[:, 0] * met * np.maximum(1 - np.cos(phi[:, 0] - met_phi), 0))
    ht = pt.sum(axis=1)
    m_all = np.sqrt(m01 ** 2 + m23 ** 2 + m02 ** 2)
    dphi = np.cos(phi[:, 1] - phi[:, 3])
    z = (1.6 * np.exp(-((m01 - 1.6) / 0.35) ** 2)          # a resonance bump
         + 0.9 * np.tanh(pt[:, 0] * pt[:, 1] - 1.2)           # momentum interaction
         + 0.8 * dphi * (tag[:, 0] >= 2)                     # angle x tag
         - 0.6 * np.abs(eta[:, 2] - eta[:, 3]) + 0.7          # rapidity gap
         + 0.5 * np.sin(2 * met_phi) * (met > 1.0)
         + 0.4 * (m_lv < 0.9) - 0.35 * (ht > 5.0))
    y = (g.uniform(size=n) < 1 / (1 + np.exp(-1.5 * (z - np.median(z))))).astype(int)
    noise = lambda s: g.normal(1.0, s, size=n)  # noqa: E731 - measurement noise
    high = np.column_stack([m01 * noise(0.05), m23 * noise(0.05), m02 * noise(0.05),
                            m_lv * noise(0.05), ht * noise(0.03), m_all * noise(0.05),
                            dphi + g.normal(0, 0.05, size=n)])
    x = np.column_stack([pt[:, 0], eta[:, 0], phi[:, 0], met, met_phi]
                        + [np.column_stack([pt[:, k], eta[:, k], phi[:, k], tag[:, k - 1]])
                           for k in range(1, 5)] + [high])
    assert x.shape == (n, 28), x.shape
    header = (["lepton_pt", "lepton_eta", "lepton_phi", "met", "met_phi"]
              + [f"jet{k}_{w}" for k in range(1, 5) for w in ("pt", "eta", "phi", "tag")]
              + ["m01", "m23", "m02", "m_lv", "ht", "m_all", "cos_dphi13", "target"])
    idx = np.arange(n)
    tr, te = train_test_split(idx, test_size=0.2, random_state=0, stratify=y)
    for part, ix in (("train", tr), ("test", te)):
        buf = io.StringIO()
        np.savetxt(buf, np.column_stack([x[ix], y[ix]]),
                   fmt=["%.5g"] * 28 + ["%d"], delimiter=",")
        with open(os.path.join(d, part + ".csv.tmp"), "w") as f:
            f.write(",".join(header) + "\n")
            f.write(buf.getvalue())
        os.replace(os.path.join(d, part + ".csv.tmp"), os.path.join(d, part + ".csv"))
    return len(tr), len(te), float(y.mean())


# ---- split ----

def split(out):
    from sklearn.model_selection import train_test_split

    for name, path, target, task, _ in tables():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        if path is None:
            rows = int(os.environ.get("LARGE_ROWS", "1000000"))
            stamp = os.path.join(d, "stamp")
            want = f"{LARGE_VERSION} rows={rows}"
            if (os.path.exists(stamp) and open(stamp).read() == want
                    and os.path.exists(os.path.join(d, "test.csv"))):
                print(f"split {name}: generated before ({want}), kept")
            else:
                t0 = time.perf_counter()
                ntr, nte, pos = gen_large(d, rows)
                with open(stamp, "w") as f:
                    f.write(want)
                print(f"split {name}: generated {rows} x 28 in {time.perf_counter() - t0:.0f} s "
                      f"({ntr} train, {nte} test rows, {pos:.3f} positive)")
            h = hashlib.sha256()
            with open(os.path.join(d, "train.csv"), "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            print(f"split {name}: train.csv sha256 {h.hexdigest()[:16]}")
            continue
        header, rows = read_table(os.path.join(ROOT, path))
        t = header.index(target)
        y = [r[t] for r in rows]
        train, test = train_test_split(rows, test_size=0.2, random_state=0,
                                       stratify=y if task == "classification" else None)
        write_table(os.path.join(d, "train.csv"), header, train)
        write_table(os.path.join(d, "test.csv"), header, test)
        miss = sum(v.strip() in MISSING for r in rows for v in r)
        print(f"split {name}: {len(train)} train, {len(test)} test rows, "
              f"{len(header) - 1} features, {miss} missing cells, target {target} ({task})")


# ---- fitd ----

class Client:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port

    def request(self, method, path, body=None, ctype=None, timeout=600):
        """Returns (status, parsed JSON or the raw text)."""
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
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw.decode(errors="replace")


class FitdError(Exception):
    """A request fitd refused or a job that did not succeed: the request and
    the answer, for the report."""

    def __init__(self, what, request, status, answer):
        super().__init__(f"{what}: HTTP {status}: {json.dumps(answer)[:600]}")
        self.info = {"what": what, "request": request, "status": status, "answer": answer}


def upload(c, out, name):
    with open(os.path.join(out, name, "train.csv"), "rb") as f:
        status, ds = c.request("POST", "/v1/datasets?name=" + name, f.read(), "text/csv")
    if status != 201:
        raise FitdError("upload", f"POST /v1/datasets?name={name}", status, ds)
    return ds["id"]


def predict_test(c, out, name, model):
    """Predictions (and, for classifiers, classes and probabilities) for
    test.csv, sent in chunks of PREDICT_CHUNK rows."""
    header, rows = read_table(os.path.join(out, name, "test.csv"))
    res = {"predictions": [], "probabilities": [], "classes": None}
    for i in range(0, len(rows), PREDICT_CHUNK):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows[i:i + PREDICT_CHUNK])
        status, pred = c.request("POST", f"/v1/models/{model}/predict",
                                 buf.getvalue().encode(), "text/csv")
        if status != 200:
            raise FitdError("predict", f"POST /v1/models/{model}/predict", status, pred)
        res["predictions"] += pred["predictions"]
        res["classes"] = pred.get("classes")
        res["probabilities"] += pred.get("probabilities") or []
    return res


def run_job(c, out, name, spec, budget):
    """Submits spec, polls until the job ends, predicts test.csv."""
    t0 = time.perf_counter()
    status, job = c.request("POST", "/v1/jobs", spec)
    submit_s = time.perf_counter() - t0
    if status != 201:
        raise FitdError("submit", spec, status, job)
    limit = 3 * budget + 120 if budget else 1800
    deadline = time.time() + limit
    while job["state"] not in TERMINAL:
        if time.time() > deadline:
            c.request("POST", f"/v1/jobs/{job['id']}/cancel")
            raise FitdError(f"job still {job['state']} after {limit} s (cancelled)", spec, 200, job)
        time.sleep(0.1)
        status, job = c.request("GET", "/v1/jobs/" + job["id"])
        if status != 200:
            raise FitdError("poll", "GET /v1/jobs/" + job["id"], status, job)
    wall = time.perf_counter() - t0
    if job["state"] != "succeeded" or not job.get("best") or not job["best"].get("model_id"):
        raise FitdError(f"job ended {job['state']}", spec, 200, job)
    model = job["best"]["model_id"]
    res = {"wall_s": wall, "submit_s": submit_s, "elapsed_s": job["progress"].get("elapsed_s"),
           "trials": job["progress"]["trials_done"], "job": job["id"], "model": model,
           "cv_score": job["best"]["score"], "params": job["best"].get("params"),
           "kind": job["best"].get("kind"), "members": len(job["best"].get("members") or [])}
    res.update(predict_test(c, out, name, model))
    return res


def save(path, res):
    with open(path + ".tmp", "w") as f:
        json.dump(res, f)
    os.replace(path + ".tmp", path)


def family_of(params):
    if isinstance(params, dict):
        return params.get("model") or params.get("models") or "?"
    return "?"


def best_of(res):
    """The final model: its (best member's) family, "+N" for an ensemble of N."""
    fam = family_of(res.get("params"))
    return f"{fam}+{res['members']}" if res.get("kind") == "ensemble" else fam


def fitd(url, out, budget, tag=None):
    c = Client(url)
    failed = 0
    for name, _, target, task, metric in tables():
        if tag is not None and (name == "large" or train_rows(out, name) >= SMALL_TRAIN_ROWS):
            continue
        b = budget_of(name, budget)
        path = os.path.join(out, name, f"fitd_{tag}.json" if tag else "fitd.json")
        if os.path.exists(path):
            os.unlink(path)  # never score a stale result
        load = loadavg()
        print(f"fitd {name}: loadavg {load}, budget {b} s", flush=True)
        spec = None
        try:
            ds = upload(c, out, name)
            spec = {"dataset": ds, "target": target, "task": task, "metric": metric,
                    "search": {"max_seconds": b, "seed": 0}}
            res = run_job(c, out, name, spec, b)
        except FitdError as e:
            print(f"fitd {name}: FAILED: {e}", file=sys.stderr, flush=True)
            save(path, {"error": e.info, "loadavg": load, "budget": b})
            failed += 1
            continue
        except Exception as e:  # noqa: BLE001 - report and go on with the next table
            print(f"fitd {name}: FAILED: {e}", file=sys.stderr, flush=True)
            save(path, {"error": {"what": str(e), "request": spec}, "loadavg": load, "budget": b})
            failed += 1
            continue
        res["loadavg"], res["budget"] = load, b
        save(path, res)
        print(f"fitd {name}: {res['trials']} trials in {res['wall_s']:.1f} s "
              f"(job elapsed {res['elapsed_s']:.1f} s), cv {metric} {res['cv_score']:.4f}, "
              f"best {best_of(res)}", flush=True)
    return 1 if failed else 0


def families_of(task):
    if task == "classification":
        return ["logistic", "svm", "mlp", "gbdt"]
    return ["linear", "svm", "mlp", "gbdt"]


# A family restricted further, scored against its family's scikit-learn
# default: name -> (family, extra space settings).
FAMILY_VARIANTS = {"svm_dcd": ("svm", {"optimizer": ["dcd"]})}


def family_rows(task):
    """The rows of the family table for task: each family, then its variants;
    FAMILIES (names, space-separated) keeps only those named."""
    only = os.environ.get("FAMILIES", "").split()
    rows = []
    for fam in families_of(task):
        rows.append(fam)
        rows.extend(v for v, (base, _) in FAMILY_VARIANTS.items() if base == fam)
    return [r for r in rows if not only or r in only]


def family_base(row):
    return FAMILY_VARIANTS[row][0] if row in FAMILY_VARIANTS else row


def family_space(row):
    space = {"models": [family_base(row)]}
    space.update(FAMILY_VARIANTS[row][1] if row in FAMILY_VARIANTS else {})
    return space


def peer_families(task):
    """The scikit-learn defaults the rows of task are scored against."""
    return [f for f in families_of(task) if f in {family_base(r) for r in family_rows(task)}]


def families_fitd(url, out):
    c = Client(url)
    failed = 0
    for name, _, target, task, metric in tables():
        if name == "large":
            continue
        load = loadavg()
        print(f"families fitd {name}: loadavg {load}", flush=True)
        ds = upload(c, out, name)
        for fam in family_rows(task):
            path = os.path.join(out, name, f"fam_fitd_{fam}.json")
            if os.path.exists(path):
                os.unlink(path)
            spec = {"dataset": ds, "target": target, "task": task, "metric": metric,
                    "space": family_space(fam),
                    "search": {"max_trials": FAMILY_TRIALS, "seed": 0}}
            try:
                res = run_job(c, out, name, spec, None)
            except FitdError as e:
                refused = e.info["what"] == "submit" and e.info["status"] in (400, 422)
                print(f"families fitd {name} {fam}: {'refused' if refused else 'FAILED'}: {e}",
                      file=sys.stderr, flush=True)
                save(path, {"error": e.info, "refused": refused, "loadavg": load})
                failed += not refused
                continue
            res["loadavg"] = load
            save(path, res)
            print(f"families fitd {name} {fam}: {res['trials']} trials in {res['wall_s']:.1f} s, "
                  f"cv {metric} {res['cv_score']:.4f}", flush=True)
    return 1 if failed else 0


# ---- scoring, shared by every side ----

def same_label(a, b):
    """Labels compare as numbers when both are numbers ("1" == 1.0)."""
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a).strip() == str(b).strip()


def score(metric, truth, pred):
    if len(pred) != len(truth):
        raise ValueError(f"{len(pred)} predictions for {len(truth)} rows")
    if metric == "accuracy":
        return sum(same_label(t, p) for t, p in zip(truth, pred)) / len(truth)
    return math.sqrt(sum((float(t) - float(p)) ** 2 for t, p in zip(truth, pred)) / len(truth))


def pos_scores(res):
    """(positive label, score per test row) of a binary classifier's result,
    or None. The positive label is the second of the sorted class labels.
    fitd gives classes and probabilities; the peers write pos_label and
    pos_score (a probability or a decision value: AUC only ranks)."""
    if res.get("pos_score") is not None:
        return res["pos_label"], res["pos_score"]
    classes, probs = res.get("classes"), res.get("probabilities")
    if not classes or len(classes) != 2 or not probs:
        return None
    pos = sorted(classes)[1]
    k = classes.index(pos)
    return pos, [p[k] if isinstance(p, list) else p.get(pos) for p in probs]


def auc(truth, res):
    ps = pos_scores(res)
    if ps is None:
        return None
    from sklearn.metrics import roc_auc_score
    pos, s = ps
    y = [1 if same_label(t, pos) else 0 for t in truth]
    if len(set(y)) < 2 or len(s) != len(y):
        return None
    return roc_auc_score(y, s)


def compare(metric, f, p, n_test):
    """'fitd', 'peer' or 'tie'. Ties: accuracy within one test row
    (1/n_test); RMSE within RMSE_TIE relative."""
    if metric == "accuracy":
        if abs(f - p) <= 1.0 / n_test + 1e-12:
            return "tie"
        return "fitd" if f > p else "peer"
    if abs(f - p) <= RMSE_TIE * max(abs(p), 1e-12):
        return "tie"
    return "fitd" if f < p else "peer"


def sure(metric, truth, f, p):
    """Whether the winner of a comparison would win on most other test sets
    of the same size: the share of BOOTSTRAP resamples (with replacement,
    seed 0, both sides on the same rows) of the test rows on which the side
    ahead on the whole test set stays ahead, formatted as a percentage.
    Accuracy compares rows right, RMSE the resampled RMSEs."""
    import numpy as np
    if metric == "accuracy":
        a = np.array([same_label(t, x) for t, x in zip(truth, f["predictions"])], float)
        b = np.array([same_label(t, x) for t, x in zip(truth, p["predictions"])], float)
    else:
        y = np.array([float(t) for t in truth])
        a = -(y - np.array([float(x) for x in f["predictions"]])) ** 2
        b = -(y - np.array([float(x) for x in p["predictions"]])) ** 2
    n = len(a)
    sign = 1.0 if a.sum() >= b.sum() else -1.0
    rng = np.random.default_rng(0)
    ahead = 0
    chunk = max(1, min(BOOTSTRAP, 20000000 // max(n, 1)))
    for start in range(0, BOOTSTRAP, chunk):
        idx = rng.integers(0, n, size=(min(chunk, BOOTSTRAP - start), n))
        if metric == "accuracy":
            d = a[idx].sum(axis=1) - b[idx].sum(axis=1)
        else:
            d = np.sqrt(-b[idx].mean(axis=1)) - np.sqrt(-a[idx].mean(axis=1))
        ahead += int((sign * d > 0).sum())
    return f"{100.0 * ahead / BOOTSTRAP:.0f}%"


def load_side(out, name, fname, metric, truth, what):
    """The scored result of one side, or (None, reason)."""
    path = os.path.join(out, name, fname)
    try:
        with open(path) as f:
            r = json.load(f)
    except OSError:
        return None, "missing"
    if "error" in r or "missing" in r:
        return None, r.get("missing") or ("refused" if r.get("refused") else "FAILED")
    try:
        r["score"] = score(metric, truth, r["predictions"])
        r["auc"] = auc(truth, r) if metric == "accuracy" else None
    except (ValueError, KeyError, TypeError) as e:
        print(f"{what} {name}: result not scorable: {e}", file=sys.stderr)
        return None, "FAILED"
    return r, None


def print_table(cols, lines, left=()):
    widths = [max(len(str(x)) for x in col) for col in zip(cols, *lines)]
    for i, line in enumerate([cols] + lines):
        print("  ".join(str(x).ljust(w) if j in left else str(x).rjust(w)
                        for j, (x, w) in enumerate(zip(line, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def failures(out, names_files):
    """The request and answer of each failed fitd job, for the report."""
    for name, fname in names_files:
        try:
            with open(os.path.join(out, name, fname)) as f:
                r = json.load(f)
        except OSError:
            continue
        if "error" in r:
            e = r["error"]
            ans = e.get("answer")
            if isinstance(ans, dict) and "error" in ans and isinstance(ans["error"], dict):
                ans = {k: ans[k] for k in ("id", "state", "error", "progress") if k in ans}
            print(f"  {name} ({fname}): {e.get('what')}; request {json.dumps(e.get('request'))}; "
                  f"answer HTTP {e.get('status')} {json.dumps(ans)[:800]}")


def table(out, budget):
    cols = ("dataset", "task", "rows", "metric", "fitd", "optuna", "xgboost",
            "auc f/o/x", "trials f/o", "wall s f/o/x", "fitd best", "load", "vs optuna", "sure",
            "vs xgb")
    lines = []
    n = wins_o = wins_x = both_o = both_x = 0
    sure_losses, sure_wins = [], []
    overruns = []
    failed = []
    for name, _, target, task, metric in tables():
        truth = test_truth(out, name, target)
        n += 1
        f, fwhy = load_side(out, name, "fitd.json", metric, truth, "fitd")
        o, owhy = load_side(out, name, "optuna.json", metric, truth, "optuna")
        x, xwhy = load_side(out, name, "xgboost.json", metric, truth, "xgboost")
        if f is None:
            failed.append(name)
        verdict = []
        for peer, label in ((o, "optuna"), (x, "xgb")):
            if f and peer:
                w = compare(metric, f["score"], peer["score"], len(truth))
                verdict.append("fitd" if w == "fitd" else "tie" if w == "tie" else label)
            else:
                verdict.append("-")
        surety = "-"
        if f and o:
            both_o += 1
            wins_o += verdict[0] in ("fitd", "tie")
            if verdict[0] != "tie":
                surety = sure(metric, truth, f, o)
                if float(surety[:-1]) >= 95:
                    (sure_wins if verdict[0] == "fitd" else sure_losses).append(name)
        if f and x:
            both_x += 1
            wins_x += verdict[1] in ("fitd", "tie")
        if f:
            b = f.get("budget", budget_of(name, budget))
            over = f["wall_s"] - b
            overruns.append((name, b, f["wall_s"], f.get("elapsed_s"), over, f.get("submit_s")))
        mm = "acc" if metric == "accuracy" else "rmse"
        sfmt = ".4f" if metric == "accuracy" else ".5g"

        def sc(r, why):
            return format(r["score"], sfmt) if r else why

        aucs = "/".join(fmt(r.get("auc") if r else None, ".3f") for r in (f, o, x))
        k = len(set(truth))
        lines.append((name, "reg" if task == "regression" else "bin" if k == 2 else f"{k}-cls",
                      train_rows(out, name) + len(truth), mm, sc(f, fwhy), sc(o, owhy), sc(x, xwhy),
                      aucs if metric == "accuracy" else "",
                      f"{fmt(f and f['trials'], 'd')}/{fmt(o and o['trials'], 'd')}",
                      "/".join(fmt(r and r["wall_s"], ".0f") for r in (f, o, x)),
                      best_of(f) if f else "-",
                      (f or {}).get("loadavg", "-").split()[0] if f else "-",
                      verdict[0], surety, verdict[1]))
    print(f"loadavg now {loadavg()}")
    print_table(cols, lines, left=(0, 1, 3, 10, 12, 14))
    print(f"ties: accuracy within one test row (1/n_test), RMSE within {RMSE_TIE:.1%} relative;"
          " rows: train + test; load: 1-min loadavg when fitd's job started;"
          " fitd best: the final model's family, +N for an ensemble of N trials;"
          f" sure: the share of {BOOTSTRAP} bootstrap resamples of the test rows on which"
          " the side ahead of optuna stays ahead")
    print(f"fitd >= optuna on {wins_o} of {both_o}; fitd >= xgboost on {wins_x} of {both_x}"
          f" ({n} tables, {len(failed)} without a fitd result)")
    for what, names in (("wins over", sure_wins), ("losses to", sure_losses)):
        print(f"{what} optuna that 95% of the resamples keep: {len(names)}"
              + (f" ({', '.join(names)})" if names else ""))
    late = [o for o in overruns if o[4] > 1.0]
    worst = max(overruns, key=lambda o: o[4]) if overruns else None
    if overruns:
        print(f"every fitd job within max_seconds + 1 s: {'yes' if not late else 'NO'}"
              f" (worst: {worst[0]} {worst[2]:.1f} s for {worst[1]} s, overrun {worst[4]:+.1f} s;"
              " wall = submit to the poll that saw it end, 0.1 s polls)")
        for name, b, wall, el, over, sub in late:
            print(f"  overrun {name}: wall {wall:.1f} s for a budget of {b} s ({over:+.1f} s);"
                  f" the job's progress.elapsed_s {el:.1f} s"
                  + (f"; POST /v1/jobs answered after {sub:.1f} s" if sub is not None else ""))
    if failed:
        print("fitd failures (request, answer):")
        failures(out, [(nm, "fitd.json") for nm in failed])
    return 1 if failed else 0


def sweep(out, budgets):
    cols = ["dataset", "metric", "test rows"] + [f"fitd@{b}s" for b in budgets] + \
        [f"trials@{b}s" for b in budgets] + ["flag"]
    lines = []
    flagged = 0
    failed = []
    for name, _, target, task, metric in tables():
        if name == "large" or train_rows(out, name) >= SMALL_TRAIN_ROWS:
            continue
        truth = test_truth(out, name, target)
        res = []
        for b in budgets:
            r, why = load_side(out, name, f"fitd_{b}.json", metric, truth, "fitd")
            if r is None:
                failed.append((name, f"fitd_{b}.json"))
            res.append(r)
        # more than one test row's worth: accuracy lower by more than 1/n;
        # RMSE, where one row has no fixed worth, higher by more than RMSE_TIE
        flag = []
        for i in range(len(budgets)):
            for j in range(i + 1, len(budgets)):
                a, c = res[i], res[j]
                if a and c and compare(metric, c["score"], a["score"], len(truth)) == "peer":
                    flag.append(f"{budgets[j]}<{budgets[i]}")
        flagged += bool(flag)
        sfmt = ".4f" if metric == "accuracy" else ".5g"
        lines.append([name, metric, len(truth)] + [fmt(r and r["score"], sfmt) for r in res]
                     + [fmt(r and r["trials"], "d") for r in res]
                     + [" ".join(flag) if flag else "ok"])
    print(f"loadavg now {loadavg()}")
    print_table(cols, lines, left=(0, 1, len(cols) - 1))
    print("flag: a larger budget scores worse than a smaller one by more than one test row"
          f" (accuracy: 1/n_test; RMSE: {RMSE_TIE:.1%} relative)")
    print(f"{flagged} of {len(lines)} small tables flagged")
    if failed:
        print("fitd failures (request, answer):")
        failures(out, failed)
    return 1 if failed else 0


def families(out):
    cols = ("dataset", "metric", "family", "fitd", "sklearn", "fitd trials", "fitd s", "sk s",
            "holds")
    lines = []
    held, counted, notes = {}, {}, []
    failed = []
    for name, _, target, task, metric in tables():
        if name == "large":
            continue
        truth = test_truth(out, name, target)
        sfmt = ".4f" if metric == "accuracy" else ".5g"
        for fam in family_rows(task):
            f, fwhy = load_side(out, name, f"fam_fitd_{fam}.json", metric, truth, "fitd")
            s, swhy = load_side(out, name, f"fam_sk_{family_base(fam)}.json", metric, truth,
                                "sklearn")
            if fwhy == "refused":
                notes.append((name, fam))
                continue
            if f is None:
                failed.append((name, f"fam_fitd_{fam}.json"))
            hold = "-"
            if f and s:
                if metric == "accuracy":
                    ok = f["score"] >= s["score"] - 0.02
                else:
                    ok = f["score"] <= 1.05 * s["score"]
                hold = "holds" if ok else "LOSES"
                counted[fam] = counted.get(fam, 0) + 1
                held[fam] = held.get(fam, 0) + ok
            lines.append((name, metric, fam, format(f["score"], sfmt) if f else fwhy,
                          format(s["score"], sfmt) if s else swhy,
                          fmt(f and f["trials"], "d"), fmt(f and f["wall_s"], ".1f"),
                          fmt(s and s["wall_s"], ".1f"), hold))
    print(f"loadavg now {loadavg()}")
    print_table(cols, lines, left=(0, 1, 2, 8))
    print("holds: accuracy within 0.02 of scikit-learn's default, RMSE within 5%")
    for fam in ("linear", "logistic", "svm", *FAMILY_VARIANTS, "mlp", "gbdt"):
        if fam in counted:
            print(f"  {fam:8s} holds on {held[fam]} of {counted[fam]} tables "
                  f"({held[fam] / counted[fam]:.0%})")
    refused = sorted({fam for _, fam in notes})
    for fam in refused:
        which = [n for n, fm in notes if fm == fam]
        print(f"  {fam:8s} skipped: the daemon refused the spec on {len(which)} tables "
              f"(e.g. {which[0]})")
    if notes:
        print("refusals (request, answer):")
        firsts = {}
        for name, fam in notes:
            firsts.setdefault(fam, name)
        failures(out, [(name, f"fam_fitd_{fam}.json") for fam, name in sorted(firsts.items())])
    if failed:
        print("fitd failures (request, answer):")
        failures(out, failed)
    return 1 if failed else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "split":
        split(argv[2])
        return 0
    if len(argv) in (5, 6) and argv[1] == "fitd":
        return fitd(argv[2], argv[3], int(argv[4]), argv[5] if len(argv) == 6 else None)
    if len(argv) == 4 and argv[1] == "families-fitd":
        return families_fitd(argv[2], argv[3])
    if len(argv) == 4 and argv[1] == "table":
        return table(argv[2], int(argv[3]))
    if len(argv) >= 4 and argv[1] == "sweep":
        return sweep(argv[2], [int(b) for b in argv[3:]])
    if len(argv) == 3 and argv[1] == "families":
        return families(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
