#!/usr/bin/python3
"""The Python peers of tests/bench/fit_bench.sh, on the same generated CSV.

    fit_bench_peers.py logistic FILE FITD_WEIGHTS
        Times scikit-learn's LogisticRegression(solver="lbfgs", C=1) and
        liblinear's -s 0 -c 1 (python3-liblinear; building its problem is not
        timed) on the features standardized as fitd does (best of three; also
        once as a StandardScaler pipeline on the raw features), computes a tight
        reference optimum, and evaluates every solution (fitd's from
        FITD_WEIGHTS, written by fit_bench) with one float64 objective:
        C * sum(log loss) + |w|^2 / 2, intercept unpenalized.
    fit_bench_peers.py mlp FILE EPOCHS
        Times MLPClassifier((256,), relu, adam, batch 256) for EPOCHS epochs.
    fit_bench_peers.py blas
        Names the BLAS NumPy (and so scikit-learn) loaded, as threadpoolctl
        sees it, and measures its GEMM GFLOP/s on the network's shapes (a
        batch of 256 through 100 -> 256 forward, and the two products of the
        backward pass), float64 as MLPClassifier runs and float32 as fitd
        does: the machine's ceiling for the mlp rows below.

Prints "key value" lines. Loading the CSV is never timed.
"""
import sys
import time
import warnings

import numpy as np
import pandas as pd


def load(path):
    df = pd.read_csv(path)
    y = df["target"].values.astype(np.int64)
    x = df.drop(columns=["target"]).values.astype(np.float64)
    return x, y


def objective(z, y, w):
    # log(1 + exp(-s z)) with s = +1 for class 1 and -1 for class 0, stably
    m = np.where(y == 1, -z, z)
    return float(np.sum(np.logaddexp(0.0, m)) + 0.5 * np.dot(w, w))


def logistic(path, fitd_weights):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    warnings.simplefilter("ignore", ConvergenceWarning)
    x, y = load(path)
    xs = (x - x.mean(axis=0)) / x.std(axis=0)
    out = {}

    # fitd: its own standardization and weights
    rows = [line.split() for line in open(fitd_weights)]
    center = np.array([float(r[0]) for r in rows[:-1]])
    scale = np.array([float(r[1]) for r in rows[:-1]])
    w = np.array([float(r[2]) for r in rows[:-1]])
    b = float(rows[-1][0])
    out["fitd_objective"] = objective(((x - center) / scale) @ w + b, y, w)

    # reference optimum: lbfgs far past any sensible tolerance (not timed)
    ref = LogisticRegression(C=1.0, solver="lbfgs", tol=1e-12, max_iter=10000).fit(xs, y)
    out["optimum_objective"] = objective(xs @ ref.coef_[0] + ref.intercept_[0], y, ref.coef_[0])

    # scikit-learn as people run it: default tol, max_iter high enough to
    # converge; best of three. The pipeline adds the standardization fitd does.
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        sk = LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000).fit(xs, y)
        secs = time.perf_counter() - t0
        best = secs if best is None else min(best, secs)
    out["sklearn_seconds"] = best
    out["sklearn_iterations"] = int(sk.n_iter_[0])
    out["sklearn_objective"] = objective(xs @ sk.coef_[0] + sk.intercept_[0], y, sk.coef_[0])
    t0 = time.perf_counter()
    make_pipeline(StandardScaler(), LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000)).fit(x, y)
    out["sklearn_pipeline_seconds"] = time.perf_counter() - t0

    try:
        import liblinearutil as ll
    except ImportError:
        out["liblinear_seconds"] = "missing"
        out["liblinear_objective"] = "missing"
        return out
    prob = ll.problem(y.tolist(), xs.tolist())
    param = ll.parameter("-s 0 -c 1 -B 1 -q")
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        model = ll.train(prob, param)
        secs = time.perf_counter() - t0
        best = secs if best is None else min(best, secs)
    out["liblinear_seconds"] = best
    wl, bl = model.get_decfun()
    wl = np.array(wl)
    # the decision function is for the first label liblinear met
    sign = 1.0 if model.get_labels()[0] == 1 else -1.0
    out["liblinear_objective"] = objective(sign * (xs @ wl + bl), y, wl)
    return out


def mlp(path, epochs):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    warnings.simplefilter("ignore", ConvergenceWarning)
    x, y = load(path)
    xs = (x - x.mean(axis=0)) / x.std(axis=0)
    net = MLPClassifier(hidden_layer_sizes=(256,), activation="relu", solver="adam",
                        learning_rate_init=1e-3, batch_size=256, alpha=1e-4, max_iter=epochs,
                        tol=0.0, n_iter_no_change=epochs + 1, shuffle=True, random_state=0)
    t0 = time.perf_counter()
    net.fit(xs, y)
    secs = time.perf_counter() - t0
    return {"sklearn_seconds": secs, "sklearn_epochs": net.n_iter_,
            "sklearn_epoch_seconds": secs / net.n_iter_}


def blas():
    from threadpoolctl import threadpool_info

    libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    out = {"blas_library": ",".join("%s-%s(%s)" % (i.get("internal_api"), i.get("version"),
                                                    i.get("threading_layer", "?"))
                                     for i in libs) or "none-found",
           "blas_threads": max((i.get("num_threads", 0) for i in libs), default=0)}
    rng = np.random.default_rng(0)
    # forward x(256x100) w(100x256); backward dW = x^T d (100x256x256), dx = d w^T
    shapes = [((256, 100), (100, 256)), ((100, 256), (256, 256)), ((256, 256), (256, 100))]
    for dtype, name in ((np.float64, "gemm_gflops_f64"), (np.float32, "gemm_gflops_f32")):
        flops = secs = 0.0
        for sa, sb in shapes:
            a = rng.standard_normal(sa).astype(dtype)
            b = rng.standard_normal(sb).astype(dtype)
            reps = 2000
            a @ b
            t0 = time.perf_counter()
            for _ in range(reps):
                a @ b
            secs += time.perf_counter() - t0
            flops += 2.0 * sa[0] * sa[1] * sb[1] * reps
        out[name] = flops / secs / 1e9
    return out


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "logistic":
        out = logistic(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "mlp":
        out = mlp(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 2 and sys.argv[1] == "blas":
        out = blas()
    else:
        sys.stderr.write(__doc__)
        return 2
    for k, v in out.items():
        print(k, "%.10g" % v if isinstance(v, float) else v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
