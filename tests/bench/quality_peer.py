#!/usr/bin/python3
"""The peer of tests/bench/quality.sh: Optuna TPE driving scikit-learn.

    quality_peer.py OUT BUDGET CORES

Per table of quality.py's TABLES, on OUT/NAME/train.csv: a study with
TPESampler(seed=0) picks a model and its settings,

    classification  LogisticRegression, LinearSVC or MLPClassifier
    regression      Ridge, LinearSVR or MLPRegressor (target standardized,
                    as fitd does)

each as a Pipeline after a StandardScaler; the objective is the mean 3-fold
CV score (accuracy, or -RMSE). study.optimize(timeout=BUDGET, n_jobs=CORES)
runs CORES trials at a time in threads (start it with OMP_NUM_THREADS=1 and
OPENBLAS_NUM_THREADS=1 so each trial stays on one core). The best setting is
refit on the whole train split and predicts OUT/NAME/test.csv. Writes
OUT/NAME/optuna.json: wall time (study start through refit), completed
trials, best CV score and parameters, and the test predictions (scored by
quality.py table).
"""
import csv
import json
import os
import sys
import time
import warnings

import numpy as np
import optuna
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC, LinearSVR

from quality import TABLES

warnings.simplefilter("ignore", ConvergenceWarning)
# MLP: a batch larger than a small fold is clipped to the fold; say nothing
warnings.filterwarnings("ignore", message="Got `batch_size` less than 1 or larger")
optuna.logging.set_verbosity(optuna.logging.WARNING)


def load(path, target, task):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    t = header.index(target)
    x = np.array([[float(v) for i, v in enumerate(r) if i != t] for r in rows])
    y = [r[t] for r in rows]
    return x, np.array(y) if task == "classification" else np.array(y, dtype=float)


def mlp_settings(trial):
    layers = trial.suggest_int("mlp_layers", 1, 2)
    units = trial.suggest_int("mlp_units", 16, 256, log=True)
    return dict(hidden_layer_sizes=(units,) * layers,
                activation=trial.suggest_categorical("mlp_activation", ["relu", "tanh"]),
                alpha=trial.suggest_float("mlp_alpha", 1e-6, 1e-1, log=True),
                learning_rate_init=trial.suggest_float("mlp_lr", 1e-4, 1e-1, log=True),
                batch_size=trial.suggest_categorical("mlp_batch", [32, 64, 128, 256]),
                random_state=0)  # max_iter 200, stops on a flat loss


def build(trial, task):
    """The model one trial (or optuna.trial.FixedTrial of the best) names."""
    if task == "classification":
        kind = trial.suggest_categorical("model", ["logistic", "linear_svc", "mlp"])
        if kind == "logistic":
            model = LogisticRegression(C=trial.suggest_float("logistic_C", 1e-4, 1e3, log=True),
                                       max_iter=2000)
        elif kind == "linear_svc":
            model = LinearSVC(C=trial.suggest_float("svc_C", 1e-4, 1e2, log=True),
                              dual=False, max_iter=5000)
        else:
            model = MLPClassifier(**mlp_settings(trial))
        return make_pipeline(StandardScaler(), model)
    kind = trial.suggest_categorical("model", ["ridge", "linear_svr", "mlp"])
    if kind == "ridge":
        model = Ridge(alpha=trial.suggest_float("ridge_alpha", 1e-4, 1e3, log=True))
    elif kind == "linear_svr":
        loss = trial.suggest_categorical("svr_loss", ["epsilon_insensitive",
                                                     "squared_epsilon_insensitive"])
        model = LinearSVR(C=trial.suggest_float("svr_C", 1e-4, 1e2, log=True),
                          epsilon=trial.suggest_float("svr_epsilon", 1e-3, 1.0, log=True),
                          loss=loss, dual=loss == "epsilon_insensitive", max_iter=10000,
                          random_state=0)
    else:
        model = MLPRegressor(**mlp_settings(trial))
    return TransformedTargetRegressor(regressor=make_pipeline(StandardScaler(), model),
                                      transformer=StandardScaler())


def run(out, name, target, task, budget, cores):
    x, y = load(os.path.join(out, name, "train.csv"), target, task)
    xt, _ = load(os.path.join(out, name, "test.csv"), target, task)
    if task == "classification":
        cv, scoring = StratifiedKFold(3, shuffle=True, random_state=0), "accuracy"
    else:
        cv, scoring = KFold(3, shuffle=True, random_state=0), "neg_root_mean_squared_error"

    def objective(trial):
        return cross_val_score(build(trial, task), x, y, cv=cv, scoring=scoring).mean()

    t0 = time.perf_counter()
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, timeout=budget, n_jobs=cores)
    best = build(optuna.trial.FixedTrial(study.best_params), task).fit(x, y)
    pred = best.predict(xt)
    wall = time.perf_counter() - t0
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    return {"wall_s": wall, "trials": done, "cv_score": study.best_value,
            "params": study.best_params,
            "predictions": [str(p) if task == "classification" else float(p) for p in pred]}


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    out, budget, cores = argv[1], int(argv[2]), int(argv[3])
    failed = 0
    for name, target, task, metric in TABLES:
        path = os.path.join(out, name, "optuna.json")
        if os.path.exists(path):
            os.unlink(path)  # never score a stale result
        try:
            res = run(out, name, target, task, budget, cores)
        except Exception as e:  # noqa: BLE001 - report and go on with the next table
            print(f"optuna {name}: FAILED: {e}", file=sys.stderr)
            failed += 1
            continue
        with open(path, "w") as f:
            json.dump(res, f)
        cv = res["cv_score"] if metric == "accuracy" else -res["cv_score"]
        print(f"optuna {name}: {res['trials']} trials in {res['wall_s']:.1f} s, "
              f"cv {metric} {cv:.4f}, {res['params']['model']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
