#!/usr/bin/python3
"""The Python peers of tests/bench/gbdt.sh on the same gbdt_gen tables.

    gbdt_peers.py xgboost|sklearn FILE THREADS TREES
        Trains XGBoost (tree_method="hist", grow_policy="lossguide",
        max_leaves=31, max_depth=0, eta 0.1, max_bin 256 (its count includes
        every value bin; fitd and scikit-learn use 255 value bins plus one for
        missing values), lambda 1, min_child_weight 1e-3, no sampling) or
        scikit-learn's HistGradientBoostingClassifier/Regressor (max_leaf_nodes
        31, learning_rate 0.1, max_bins 255, l2_regularization 1 (scikit-learn
        1.2 leaves it 0 by default), min_samples_leaf 20, early_stopping off)
        for TREES rounds on THREADS threads, and prints "key value" lines:
        train_seconds, tree_seconds, metric, metric_value on the test rows,
        predict_rows_per_second (best of three), load_rss_mb, peak_rss_mb.
    gbdt_peers.py config
        Prints the versions and the BLAS / OpenMP libraries numpy and the
        peers load (threadpoolctl), one "key value" line each.

Categorical columns: XGBoost gets pandas "category" columns with
enable_categorical=True (hist supports them in 1.7; max_cat_to_onehot 4 as
fitd). scikit-learn 1.2 takes at most max_bins (255) categories per column,
so a column with more levels keeps its 254 most frequent training levels and
pools the rest into one code (what fitd's binning does internally); missing
values are NAN for both. XGBoost has no minimum rows per leaf: its
min_child_weight (a hessian sum) is the nearest setting and stays at fitd's
1e-3. Loading the table is never timed; fit() includes each peer's binning.
"""
import os
import resource
import sys
import time

import numpy as np


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != b"FITDGB01":
        raise SystemExit("not a gbdt_gen table")
    nrows, ncols, ntrain, nclasses = np.frombuffer(raw, np.uint64, 4, 8).astype(int)
    at = 40
    cols = []
    for _ in range(ncols):
        kind = raw[at]
        levels = int(np.frombuffer(raw, np.uint32, 1, at + 1)[0])
        name = raw[at + 5:at + 32].split(b"\0")[0].decode()
        cols.append((kind, levels, name))
        at += 32
    data = []
    for kind, levels, name in cols:
        if kind == 0:
            data.append(np.frombuffer(raw, np.float64, nrows, at))
            at += 8 * nrows
        else:
            data.append(np.frombuffer(raw, np.int32, nrows, at))
            at += 4 * nrows
    if nclasses:
        y = np.frombuffer(raw, np.int32, nrows, at).astype(np.int64)
    else:
        y = np.frombuffer(raw, np.float64, nrows, at)
    return cols, data, y, ntrain, nclasses


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def score(y, z, nclasses):
    from sklearn.metrics import log_loss, roc_auc_score
    if nclasses == 0:
        return "rmse", float(np.sqrt(np.mean((z - y) ** 2)))
    if nclasses == 2:
        return "auc", float(roc_auc_score(y, z))
    return "mlogloss", float(log_loss(y, z, labels=np.arange(nclasses)))


def frame_xgboost(cols, data):
    import pandas as pd
    out = {}
    for (kind, levels, name), v in zip(cols, data):
        if kind == 0:
            out[name] = v
        else:
            out[name] = pd.Categorical.from_codes(v, categories=np.arange(levels))
    return pd.DataFrame(out)


def frame_sklearn(cols, data, ntrain, max_bins=255):
    """A float matrix; categorical codes (NAN = missing) and their column mask."""
    x = np.empty((len(data[0]), len(data)), dtype=np.float64)
    mask = []
    for j, ((kind, levels, name), v) in enumerate(zip(cols, data)):
        mask.append(kind == 1)
        if kind == 0:
            x[:, j] = v
            continue
        codes = v.astype(np.int64)
        if levels > max_bins:
            seen = codes[:ntrain][codes[:ntrain] >= 0]
            freq = np.bincount(seen, minlength=levels)
            keep = np.argsort(-freq, kind="stable")[:max_bins - 1]
            remap = np.full(levels, max_bins - 1, dtype=np.int64)
            remap[keep] = np.arange(max_bins - 1)
            codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
        x[:, j] = np.where(codes >= 0, codes, np.nan)
    return x, np.array(mask)


def run_xgboost(cols, data, y, ntrain, nclasses, threads, trees):
    import xgboost as xgb
    df = frame_xgboost(cols, data)
    xtr, xte = df.iloc[:ntrain], df.iloc[ntrain:]
    kw = dict(n_estimators=trees, tree_method="hist", grow_policy="lossguide",
              max_leaves=31, max_depth=0, learning_rate=0.1, max_bin=256,
              reg_lambda=1.0, min_child_weight=1e-3, subsample=1.0,
              colsample_bytree=1.0, n_jobs=threads, enable_categorical=True,
              max_cat_to_onehot=4)
    model = xgb.XGBRegressor(**kw) if nclasses == 0 else xgb.XGBClassifier(**kw)
    t0 = time.perf_counter()
    model.fit(xtr, y[:ntrain])
    train = time.perf_counter() - t0
    booster = model.get_booster()
    best = 1e30
    for _ in range(3):
        t0 = time.perf_counter()
        z = booster.inplace_predict(xte)
        best = min(best, time.perf_counter() - t0)
    return train, z, best


def run_sklearn(cols, data, y, ntrain, nclasses, threads, trees):
    from threadpoolctl import threadpool_limits
    from sklearn.experimental import enable_hist_gradient_boosting  # noqa: F401
    from sklearn.ensemble import (HistGradientBoostingClassifier,
                                  HistGradientBoostingRegressor)
    x, mask = frame_sklearn(cols, data, ntrain)
    kw = dict(max_iter=trees, learning_rate=0.1, max_leaf_nodes=31,
              max_depth=None, min_samples_leaf=20, l2_regularization=1.0,
              max_bins=255, early_stopping=False,
              categorical_features=mask if mask.any() else None)
    if nclasses == 0:
        model = HistGradientBoostingRegressor(loss="squared_error", **kw)
    else:
        model = HistGradientBoostingClassifier(loss="log_loss", **kw)
    with threadpool_limits(limits=threads, user_api="openmp"):
        t0 = time.perf_counter()
        model.fit(x[:ntrain], y[:ntrain])
        train = time.perf_counter() - t0
        best = 1e30
        for _ in range(3):
            t0 = time.perf_counter()
            if nclasses == 0:
                z = model.predict(x[ntrain:])
            elif nclasses == 2:
                z = model.predict_proba(x[ntrain:])[:, 1]
            else:
                z = model.predict_proba(x[ntrain:])
            best = min(best, time.perf_counter() - t0)
    return train, z, best


def config():
    import numpy
    print("numpy", numpy.__version__)
    for mod in ("xgboost", "sklearn"):
        try:
            print(mod, __import__(mod).__version__)
        except ImportError:
            print(mod, "missing")
    try:
        import sklearn.ensemble  # noqa: F401  (loads its OpenMP runtime)
        import xgboost  # noqa: F401
        from threadpoolctl import threadpool_info
        for i, lib in enumerate(threadpool_info()):
            print("threadpool_%d %s:%s:%s:threads=%s" % (
                i, lib.get("user_api"), lib.get("internal_api"),
                os.path.basename(lib.get("filepath", "?")), lib.get("num_threads")))
    except ImportError as e:
        print("threadpool missing", e)


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "config":
        config()
        return
    if len(sys.argv) != 5 or sys.argv[1] not in ("xgboost", "sklearn"):
        raise SystemExit(__doc__)
    tool, path, threads, trees = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    cols, data, y, ntrain, nclasses = load(path)
    load_mb = peak_mb()
    run = run_xgboost if tool == "xgboost" else run_sklearn
    train, z, pred = run(cols, data, y, ntrain, nclasses, threads, trees)
    metric, value = score(y[ntrain:], z, nclasses)
    print("train_seconds %.3f" % train)
    print("tree_seconds %.5f" % (train / trees))
    print("metric_value %.5f" % value)
    print("metric %s" % metric)
    print("predict_rows_per_second %.0f" % ((len(y) - ntrain) / pred))
    print("load_rss_mb %.0f" % load_mb)
    print("peak_rss_mb %.0f" % peak_mb())


if __name__ == "__main__":
    main()
