#!/usr/bin/python3
"""fitd's dcd (the linear SVM's dual coordinate descent) against liblinear's
own, for tests/bench/svm_dcd.sh.

    svm_dcd.py FIT_BENCH CSV TARGET OUTDIR

CSV is a table of numeric features and a two-class TARGET (breast_cancer).
Its numeric copy (target 0/1, last) goes to OUTDIR; fit_bench trains fitd's
svm by dcd on it and writes its standardization and weights. liblinear-train
(liblinear-tools 2.3: -s 1 is the squared hinge, -s 3 the hinge, each by
its dual coordinate descent, -B 1) trains on the same features standardized
with fitd's centers and scales, written with 17 digits. Every solution is
scored by one float64 function on those features, the objective both
minimize: |w|^2 / 2 + b^2 / 2 + C * sum(loss). The optimum is fitd's run to
tol 1e-9.

For each loss, C in (0.1, 1, 10) and tolerance (0.1, liblinear-train's
default; 1e-4, scikit-learn LinearSVC's), prints one row: iterations,
seconds, the objectives' gaps to the optimum (relative), and the largest
weight difference relative to the largest weight. It fails when, at
tolerance 1e-4, the objectives differ by more than 1e-6 relative and the
weights by more than 1e-3.
"""
import csv
import math
import os
import subprocess
import sys
import time

LOSSES = (("squared_hinge", 1), ("hinge", 3))
CS = (0.1, 1.0, 10.0)
TOLS = (0.1, 1e-4)
OPT_TOL = 1e-9
LIBLINEAR_MAX_ITER = 1000  # fixed in liblinear 2.3's dual solvers (scikit-learn: max_iter)


def numeric_copy(src, target, out):
    with open(src, newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    t = head.index(target)
    classes = sorted({r[t] for r in body})
    assert len(classes) == 2, classes
    feats = [j for j in range(len(head)) if j != t]
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([head[j] for j in feats] + ["target"])
        for r in body:
            w.writerow([r[j] for j in feats] + [classes.index(r[t])])
    x = [[float(r[j]) for j in feats] for r in body]
    y = [1.0 if classes.index(r[t]) == 1 else -1.0 for r in body]
    return x, y


def fitd(bench, data, out, loss, c, tol):
    res = subprocess.run([bench, "svm", data, out, loss, repr(c), repr(tol)], check=True,
                         capture_output=True, text=True).stdout
    kv = dict(line.split(None, 1) for line in res.splitlines())
    rows = [line.split() for line in open(out)]
    center = [float(r[0]) for r in rows[:-1]]
    scale = [float(r[1]) for r in rows[:-1]]
    w = [float(r[2]) for r in rows[:-1]]
    return {"w": w, "b": float(rows[-1][0]), "center": center, "scale": scale,
            "iterations": int(kv["iterations"]), "seconds": float(kv["fit_seconds"])}


def objective(xs, y, w, b, c, loss):
    total = 0.0
    for xi, yi in zip(xs, y):
        m = max(0.0, 1.0 - yi * (sum(a * v for a, v in zip(xi, w)) + b))
        total += m if loss == "hinge" else m * m
    return 0.5 * (sum(v * v for v in w) + b * b) + c * total


def write_svmlight(xs, y, path):
    with open(path, "w") as f:
        for xi, yi in zip(xs, y):
            f.write("%d %s\n" % (yi, " ".join("%d:%.17g" % (j + 1, v) for j, v in enumerate(xi))))


def liblinear(data, solver, c, tol, model):
    """liblinear-train on data: weights and intercept for label +1, iterations, seconds."""
    t0 = time.perf_counter()
    res = subprocess.run(["liblinear-train", "-s", str(solver), "-c", repr(c), "-B", "1",
                          "-e", repr(tol), data, model], check=True, capture_output=True,
                         text=True).stdout
    secs = time.perf_counter() - t0
    iters = int(res.split("#iter = ")[1].split()[0])
    lines = open(model).read().split("\n")
    labels = next(ln for ln in lines if ln.startswith("label")).split()[1:]
    w = [float(v) for v in lines[lines.index("w") + 1:] if v.strip()]
    sign = 1.0 if labels[0] == "1" else -1.0  # its first label is its positive
    return [sign * v for v in w[:-1]], sign * w[-1], iters, secs


def main():
    if len(sys.argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    bench, src, target, outdir = sys.argv[1:]
    data = os.path.join(outdir, "svm_dcd.csv")
    wfile = os.path.join(outdir, "svm_dcd_weights.txt")
    lfile = os.path.join(outdir, "svm_dcd.svmlight")
    lmodel = os.path.join(outdir, "svm_dcd.liblinear")
    x, y = numeric_copy(src, target, data)
    print("%-13s %5s %6s | %7s %8s %9s | %6s %8s %9s | %9s" % (
        "loss", "C", "tol", "fitd it", "fitd s", "fitd gap", "ll it", "ll s", "ll gap",
        "w diff"))
    failed = 0
    for loss, solver in LOSSES:
        for c in CS:
            opt = fitd(bench, data, wfile, loss, c, OPT_TOL)
            xs = [[(v - m) / s for v, m, s in zip(r, opt["center"], opt["scale"])] for r in x]
            write_svmlight(xs, y, lfile)
            best = objective(xs, y, opt["w"], opt["b"], c, loss)
            for tol in TOLS:
                f = fitd(bench, data, wfile, loss, c, tol)
                lw, lb, lit, lsecs = liblinear(lfile, solver, c, tol, lmodel)
                fobj = objective(xs, y, f["w"], f["b"], c, loss)
                lobj = objective(xs, y, lw, lb, c, loss)
                big = max(abs(v) for v in lw + [lb])
                diff = max(abs(a - b) for a, b in zip(f["w"] + [f["b"]], lw + [lb])) / big
                capped = lit >= LIBLINEAR_MAX_ITER
                print("%-13s %5g %6g | %7d %8.4f %9.2e | %5d%s %8.4f %9.2e | %9.2e" % (
                    loss, c, tol, f["iterations"], f["seconds"], (fobj - best) / best, lit,
                    "*" if capped else " ", lsecs, (lobj - best) / best, diff))
                if tol == 1e-4 and not capped and abs(fobj - lobj) > 1e-6 * best and \
                        diff > 1e-3:
                    failed += 1
    print("gap: (objective - optimum) / optimum; w diff: max |fitd - liblinear| over the "
          "weights and intercept / max |liblinear|;")
    print("*: liblinear stopped at its cap of %d iterations, not at tol (fitd's is 1000000)"
          % LIBLINEAR_MAX_ITER)
    print("agree at tol 1e-4 where liblinear converged (objectives within 1e-6 relative or "
          "weights within 1e-3): %s" % ("yes" if not failed else "NO, %d cases" % failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
