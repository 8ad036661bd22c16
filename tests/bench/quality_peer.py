#!/usr/bin/python3
"""The peers of tests/bench/quality.sh and tests/bench/families.sh.

    quality_peer.py optuna OUT BUDGET CORES
    quality_peer.py xgboost OUT CORES
    quality_peer.py families OUT

Every peer reads OUT/NAME/train.csv and test.csv as pandas reads them with
the daemon's missing-value tokens (so a column is numeric exactly when fitd
types it numeric) and prepares the columns with one pipeline, fitted on the
training rows only (prep):

    numeric      median imputation with missing-indicator columns, then
                 StandardScaler (what fitd does)
    categorical  missing as its own level, one-hot with levels under 5 rows
                 folded into an "infrequent" column that also takes unseen
                 levels (fitd folds rare levels the same way)

optuna: TPESampler(seed=0) picks a model and its settings among

    classification  LogisticRegression, LinearSVC, MLPClassifier,
                    HistGradientBoostingClassifier
    regression      Ridge, LinearSVR, MLPRegressor,
                    HistGradientBoostingRegressor (target standardized by
                    TransformedTargetRegressor, as fitd does)

scored by mean 3-fold CV (accuracy, or -RMSE), study.optimize(timeout=
BUDGET, n_jobs=CORES): CORES trials at a time in threads (quality.sh starts
it with OMP_NUM_THREADS=1 and OPENBLAS_NUM_THREADS=1 so each trial stays on
one core). Optuna's timeout starts no trial after BUDGET but lets running
ones finish, and one MLP trial on the large table can take many minutes:
the study runs in a child process that is stopped at 3 x BUDGET (the
trials running then are lost, and the row says so). The best completed
setting is refit on the whole train split and predicts test.csv. Wall time
is study start through the refit's predictions; trials are completed ones.

xgboost: XGBClassifier() / XGBRegressor() with their defaults,
tree_method="hist", n_jobs=CORES; categorical columns one-hot encoded
(pandas get_dummies over the training rows' levels; a missing level is all
zeros), numeric columns as they are (XGBoost's own missing-value handling).
Class labels are encoded as 0..k-1 in sorted order.

families: scikit-learn's default of each fitd family after the same prep:
LogisticRegression(), LinearSVC() / LinearSVR(), MLPClassifier() /
MLPRegressor() (random_state=0), LinearRegression(), HistGradientBoosting
Classifier() / Regressor() (random_state=0, fitd's gbdt); regressors
through TransformedTargetRegressor(StandardScaler) as in the optuna space.

Writes OUT/NAME/{optuna,xgboost,fam_sk_FAMILY}.json: wall time, trials,
best CV score and parameters, the test predictions and, for binary tasks,
the positive label's scores (probability, or decision value for LinearSVC)
for the AUC; quality.py scores them all with one function. A peer that
cannot be imported writes {"missing": reason} for every table.
"""
import json
import multiprocessing
import os
import sys
import threading
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from quality import MISSING, loadavg, peer_families, save, tables, budget_of

warnings.simplefilter("ignore", ConvergenceWarning)
warnings.simplefilter("ignore", UserWarning)    # MLP batch clipped to a small fold, etc.
warnings.simplefilter("ignore", FutureWarning)
CAP_FACTOR = 3


def load(out, name, target, task):
    """X, y (train), Xt (test) as DataFrames; categorical columns object."""
    def rd(part):
        return pd.read_csv(os.path.join(out, name, part + ".csv"), na_values=sorted(MISSING),
                           keep_default_na=False, dtype={target: str}, skipinitialspace=True)
    tr, te = rd("train"), rd("test")
    y = tr.pop(target)
    te.pop(target)
    y = y.to_numpy() if task == "classification" else y.astype(float).to_numpy()
    cats = [c for c in tr.columns if not pd.api.types.is_numeric_dtype(tr[c])]
    for c in cats:  # a column numeric in train but not in test is fitd's problem too
        tr[c] = tr[c].astype(object)
        te[c] = te[c].astype(object)
    for c in tr.columns:
        if c not in cats:
            te[c] = pd.to_numeric(te[c], errors="coerce")
    return tr, y, te, cats


def prep(x, cats):
    nums = [c for c in x.columns if c not in cats]
    parts = [("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                   StandardScaler()), nums)]
    if cats:
        parts.append(("cat", make_pipeline(
            SimpleImputer(strategy="constant", fill_value="(missing)"),
            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5,
                          sparse_output=False)), cats))
    return ColumnTransformer(parts)


def binary_scores(model, xt, classes):
    """(positive label, per-row score) for a binary classifier, else None."""
    if len(classes) != 2:
        return None, None
    pos = sorted(str(c) for c in classes)[1]
    mc = [str(c) for c in model.classes_]
    if hasattr(model, "predict_proba"):
        try:
            return pos, model.predict_proba(xt)[:, mc.index(pos)].tolist()
        except AttributeError:
            pass
    d = model.decision_function(xt)
    return pos, (d if mc.index(pos) == 1 else -d).tolist()


def result(model, xt, y, task, wall_from):
    pred = model.predict(xt)
    res = {"predictions": [str(p) for p in pred] if task == "classification"
           else [float(p) for p in pred]}
    if task == "classification":
        res["pos_label"], res["pos_score"] = binary_scores(model, xt, np.unique(y))
    res["wall_s"] = time.perf_counter() - wall_from
    return res


# ---- optuna ----

def mlp_settings(trial):
    layers = trial.suggest_int("mlp_layers", 1, 2)
    units = trial.suggest_int("mlp_units", 16, 256, log=True)
    return dict(hidden_layer_sizes=(units,) * layers,
                activation=trial.suggest_categorical("mlp_activation", ["relu", "tanh"]),
                alpha=trial.suggest_float("mlp_alpha", 1e-6, 1e-1, log=True),
                learning_rate_init=trial.suggest_float("mlp_lr", 1e-4, 1e-1, log=True),
                batch_size=trial.suggest_categorical("mlp_batch", [32, 64, 128, 256]),
                random_state=0)  # max_iter 200, stops on a flat loss


def hgb_settings(trial):
    return dict(learning_rate=trial.suggest_float("hgb_lr", 0.01, 0.5, log=True),
                max_iter=trial.suggest_int("hgb_iter", 50, 1000, log=True),
                max_leaf_nodes=trial.suggest_int("hgb_leaves", 4, 128, log=True),
                min_samples_leaf=trial.suggest_int("hgb_min_leaf", 2, 100, log=True),
                l2_regularization=trial.suggest_float("hgb_l2", 1e-8, 10.0, log=True),
                random_state=0)


def build(trial, task, x, cats):
    """The model one trial (or optuna.trial.FixedTrial of the best) names."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.svm import LinearSVC, LinearSVR

    if task == "classification":
        kind = trial.suggest_categorical("model", ["logistic", "linear_svc", "mlp", "hgb"])
        if kind == "logistic":
            model = LogisticRegression(C=trial.suggest_float("logistic_C", 1e-4, 1e3, log=True),
                                       max_iter=2000)
        elif kind == "linear_svc":
            model = LinearSVC(C=trial.suggest_float("svc_C", 1e-4, 1e2, log=True),
                              dual=False, max_iter=5000)
        elif kind == "mlp":
            model = MLPClassifier(**mlp_settings(trial))
        else:
            model = HistGradientBoostingClassifier(**hgb_settings(trial))
        return make_pipeline(prep(x, cats), model)
    kind = trial.suggest_categorical("model", ["ridge", "linear_svr", "mlp", "hgb"])
    if kind == "ridge":
        model = Ridge(alpha=trial.suggest_float("ridge_alpha", 1e-4, 1e3, log=True))
    elif kind == "linear_svr":
        loss = trial.suggest_categorical("svr_loss", ["epsilon_insensitive",
                                                     "squared_epsilon_insensitive"])
        model = LinearSVR(C=trial.suggest_float("svr_C", 1e-4, 1e2, log=True),
                          epsilon=trial.suggest_float("svr_epsilon", 1e-3, 1.0, log=True),
                          loss=loss, dual=loss == "epsilon_insensitive", max_iter=10000,
                          random_state=0)
    elif kind == "mlp":
        model = MLPRegressor(**mlp_settings(trial))
    else:
        model = HistGradientBoostingRegressor(**hgb_settings(trial))
    return TransformedTargetRegressor(regressor=make_pipeline(prep(x, cats), model),
                                      transformer=StandardScaler())


def study_child(x, y, cats, task, budget, cores, log):
    """Runs the study; every finished trial is appended to log (JSON lines)."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if task == "classification":
        cv, scoring = StratifiedKFold(3, shuffle=True, random_state=0), "accuracy"
    else:
        cv, scoring = KFold(3, shuffle=True, random_state=0), "neg_root_mean_squared_error"
    lock = threading.Lock()

    def objective(trial):
        return cross_val_score(build(trial, task, x, cats), x, y, cv=cv, scoring=scoring).mean()

    def record(study, trial):
        with lock, open(log, "a") as f:
            f.write(json.dumps({"number": trial.number, "state": trial.state.name,
                                "value": trial.value, "params": trial.params}) + "\n")

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, timeout=budget, n_jobs=cores, callbacks=[record],
                   catch=(Exception,))


def run_optuna(out, name, target, task, budget, cores):
    import optuna
    x, y, xt, cats = load(out, name, target, task)
    log = os.path.join(out, name, "optuna_trials.jsonl")
    if os.path.exists(log):
        os.unlink(log)
    t0 = time.perf_counter()
    child = multiprocessing.get_context("fork").Process(
        target=study_child, args=(x, y, cats, task, budget, cores, log))
    child.start()
    child.join(CAP_FACTOR * budget)
    stopped = child.is_alive()
    if stopped:
        child.terminate()
        child.join()
    trials = []
    if os.path.exists(log):
        with open(log) as f:
            trials = [json.loads(line) for line in f]
    done = [t for t in trials if t["state"] == "COMPLETE" and t["value"] is not None
            and np.isfinite(t["value"])]
    if not done:
        raise RuntimeError(f"no trial completed within {CAP_FACTOR * budget} s "
                           f"({len(trials)} finished otherwise)")
    best = max(done, key=lambda t: (t["value"], -t["number"]))
    model = build(optuna.trial.FixedTrial(best["params"]), task, x, cats).fit(x, y)
    res = result(model, xt, y, task, t0)
    res.update({"trials": len(done), "cv_score": best["value"], "params": best["params"],
                "stopped_at_cap": stopped})
    return res


def optuna_side(out, budget, cores):
    try:
        import optuna  # noqa: F401
    except ImportError as e:
        return missing_everywhere(out, "optuna.json", f"optuna not importable: {e}")
    failed = 0
    for name, _, target, task, metric in tables():
        b = budget_of(name, budget)
        path = os.path.join(out, name, "optuna.json")
        if os.path.exists(path):
            os.unlink(path)  # never score a stale result
        print(f"optuna {name}: loadavg {loadavg()}, budget {b} s", flush=True)
        try:
            res = run_optuna(out, name, target, task, b, cores)
        except Exception as e:  # noqa: BLE001 - report and go on with the next table
            print(f"optuna {name}: FAILED: {e}", file=sys.stderr, flush=True)
            save(path, {"error": {"what": str(e)}})
            failed += 1
            continue
        save(path, res)
        cv = res["cv_score"] if metric == "accuracy" else -res["cv_score"]
        print(f"optuna {name}: {res['trials']} trials in {res['wall_s']:.1f} s"
              f"{' (stopped at the cap)' if res['stopped_at_cap'] else ''}, "
              f"cv {metric} {cv:.4f}, {res['params']['model']}", flush=True)
    return 1 if failed else 0


# ---- xgboost ----

def run_xgboost(out, name, target, task, cores):
    import xgboost as xgb
    x, y, xt, cats = load(out, name, target, task)
    t0 = time.perf_counter()
    xd = pd.get_dummies(x, columns=cats, dtype=float)
    xtd = pd.get_dummies(xt, columns=cats, dtype=float).reindex(columns=xd.columns,
                                                                fill_value=0.0)
    if task == "classification":
        classes = np.unique(y)
        model = xgb.XGBClassifier(tree_method="hist", n_jobs=cores)
        model.fit(xd, np.searchsorted(classes, y))
        pred = classes[model.predict(xtd)]
        res = {"predictions": [str(p) for p in pred], "pos_label": None, "pos_score": None}
        if len(classes) == 2:
            res["pos_label"] = str(classes[1])
            res["pos_score"] = model.predict_proba(xtd)[:, 1].tolist()
    else:
        model = xgb.XGBRegressor(tree_method="hist", n_jobs=cores)
        model.fit(xd, y)
        res = {"predictions": [float(p) for p in model.predict(xtd)]}
    res.update({"wall_s": time.perf_counter() - t0, "trials": 1, "cv_score": None,
                "params": {"model": "xgboost-defaults"}})
    return res


def xgboost_side(out, cores):
    try:
        import xgboost  # noqa: F401
    except ImportError as e:
        return missing_everywhere(out, "xgboost.json", f"xgboost not importable: {e}")
    failed = 0
    for name, _, target, task, _ in tables():
        path = os.path.join(out, name, "xgboost.json")
        if os.path.exists(path):
            os.unlink(path)
        print(f"xgboost {name}: loadavg {loadavg()}", flush=True)
        try:
            res = run_xgboost(out, name, target, task, cores)
        except Exception as e:  # noqa: BLE001
            print(f"xgboost {name}: FAILED: {e}", file=sys.stderr, flush=True)
            save(path, {"error": {"what": str(e)}})
            failed += 1
            continue
        save(path, res)
        print(f"xgboost {name}: {res['wall_s']:.1f} s", flush=True)
    return 1 if failed else 0


# ---- families ----

def default_of(fam, task):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.svm import LinearSVC, LinearSVR

    if task == "classification":
        return {"logistic": LogisticRegression(), "svm": LinearSVC(random_state=0),
                "mlp": MLPClassifier(random_state=0),
                "gbdt": HistGradientBoostingClassifier(random_state=0)}[fam]
    return {"linear": LinearRegression(), "svm": LinearSVR(random_state=0),
            "mlp": MLPRegressor(random_state=0),
            "gbdt": HistGradientBoostingRegressor(random_state=0)}[fam]


def families_side(out):
    failed = 0
    for name, _, target, task, _ in tables():
        if name == "large":
            continue
        print(f"families sklearn {name}: loadavg {loadavg()}", flush=True)
        x, y, xt, cats = load(out, name, target, task)
        for fam in peer_families(task):
            path = os.path.join(out, name, f"fam_sk_{fam}.json")
            t0 = time.perf_counter()
            try:
                model = make_pipeline(prep(x, cats), default_of(fam, task))
                if task == "regression":
                    model = TransformedTargetRegressor(regressor=model,
                                                       transformer=StandardScaler())
                model.fit(x, y)
                res = result(model, xt, y, task, t0)
            except Exception as e:  # noqa: BLE001
                print(f"families sklearn {name} {fam}: FAILED: {e}", file=sys.stderr, flush=True)
                save(path, {"error": {"what": str(e)}})
                failed += 1
                continue
            res["trials"] = 1
            save(path, res)
            print(f"families sklearn {name} {fam}: {res['wall_s']:.1f} s", flush=True)
    return 1 if failed else 0


def missing_everywhere(out, fname, why):
    print(f"{fname.split('.')[0]}: MISSING: {why}", file=sys.stderr)
    for name, *_ in tables():
        save(os.path.join(out, name, fname), {"missing": "missing"})
    return 0


def main(argv):
    if len(argv) == 5 and argv[1] == "optuna":
        return optuna_side(argv[2], int(argv[3]), int(argv[4]))
    if len(argv) == 4 and argv[1] == "xgboost":
        return xgboost_side(argv[2], int(argv[3]))
    if len(argv) == 3 and argv[1] == "families":
        return families_side(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
