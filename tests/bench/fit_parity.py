#!/usr/bin/python3
"""Accuracy parity references: scikit-learn's test scores on a fixed split of
iris, wine, breast_cancer, digits and diabetes, written to
tests/fit/fixture_parity.h for tests/fit/test_parity.c, which trains fitd's
corresponding model with comparable settings on the same split and requires
an accuracy no more than 0.01 below (or an RMSE no more than 5% above).

The split: row i (0-based, file order) is a test row when
splitmix64(i + 20240601) % 4 == 0 (tests/fit/helpers.c computes the same).
Features are standardized on the training rows (as fitd does).

    family    scikit-learn                                         metric
    linear    LinearRegression                                     rmse
    logistic  LogisticRegression(C=1, lbfgs)                       accuracy
    svm       LinearSVC(C=1, squared_hinge)                        accuracy
    mlp       MLPClassifier / MLPRegressor((64,), relu, adam,      accuracy / rmse
              lr 1e-3, batch 32, alpha 1e-4, at most 200 epochs);
              the regressor's target standardized as fitd does;
              fitd runs as many epochs as scikit-learn did (n_iter_);
              scores are means over seeds 0..4 on both sides, as
              one test row is 2.5% of wine's 40 and 3% of iris' 33

Run from anywhere: /usr/bin/python3 tests/bench/fit_parity.py [--check]
(--check prints the table without writing the fixture).
"""
import os
import sys
import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
OUT = os.path.join(HERE, "..", "fit", "fixture_parity.h")
SPLIT_SEED = 20240601
MASK = (1 << 64) - 1

DATASETS = (
    ("iris.csv", "species", "classification"),
    ("wine.csv", "cultivar", "classification"),
    ("breast_cancer.csv", "diagnosis", "classification"),
    ("digits.csv", "digit", "classification"),
    ("diabetes.csv", "progression", "regression"),
)


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def split(n):
    test = np.array([splitmix64(i + SPLIT_SEED) % 4 == 0 for i in range(n)])
    return ~test, test


SEEDS = 5  # networks: scores are means over random_state / seed 0..SEEDS-1


def models(task, seed=0):
    mlp = dict(hidden_layer_sizes=(64,), activation="relu", solver="adam", learning_rate_init=1e-3,
               batch_size=32, alpha=1e-4, max_iter=200, random_state=seed)
    if task == "regression":
        return (("linear", LinearRegression()),
                ("mlp", TransformedTargetRegressor(MLPRegressor(**mlp), transformer=StandardScaler())))
    return (("logistic", LogisticRegression(C=1.0, max_iter=10000)),
            ("svm", LinearSVC(C=1.0, loss="squared_hinge", max_iter=100000)),
            ("mlp", MLPClassifier(**mlp)))


def score_of(model, task, xtr, ytr, xte, yte):
    model.fit(xtr, ytr)
    pred = model.predict(xte)
    if task == "regression":
        return float(np.sqrt(np.mean((pred - yte) ** 2)))
    return float(np.mean(pred == yte))


def main():
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = []
    for name, target, task in DATASETS:
        df = pd.read_csv(os.path.join(DATA, name))
        y = df[target].values
        x = df.drop(columns=[target]).values.astype(np.float64)
        train, test = split(len(df))
        scaler = StandardScaler().fit(x[train])
        xtr, xte = scaler.transform(x[train]), scaler.transform(x[test])
        metric = "FIT_METRIC_RMSE" if task == "regression" else "FIT_METRIC_ACCURACY"
        for family, model in models(task):
            if family != "mlp":
                score = score_of(model, task, xtr, y[train], xte, y[test])
                epochs = [0] * SEEDS
            else:
                scores, epochs = [], []
                for seed in range(SEEDS):
                    net = dict(models(task, seed))["mlp"]
                    scores.append(score_of(net, task, xtr, y[train], xte, y[test]))
                    epochs.append(int(getattr(net, "regressor_", net).n_iter_))
                score = float(np.mean(scores))
            rows.append((name, target, task, family, metric, score, int(test.sum()), epochs))
            print("%-18s %-9s %-18s %.6f (%d test rows)" % (name, family, metric, score, test.sum()))
    if "--check" in sys.argv:
        return 0
    with open(OUT, "w") as out:
        out.write("/*\n * fixture_parity.h - scikit-learn %s's test scores on the fixed split,\n"
                  " * written by tests/bench/fit_parity.py (see it for the exact estimators).\n"
                  " * Do not edit; rerun the script.\n */\n" % sklearn.__version__)
        out.write("static const struct parity_ref {\n\tconst char *file, *target;\n"
                  "\tenum fit_task task;\n\tconst char *family;\n\tenum fit_metric metric;\n"
                  "\tdouble sklearn;\n\tsize_t ntest;\n"
                  "\tunsigned epochs[%d]; /* mlp: per seed, the epochs scikit-learn ran (its tol\n"
                  "\t\t\t     * rule stops it early; fitd runs as many) */\n"
                  "} parity_refs[] = {\n" % SEEDS)
        for name, target, task, family, metric, score, ntest, epochs in rows:
            out.write('\t{ "%s", "%s", FIT_TASK_%s, "%s",\n\t  %s, %.17g, %d, { %s } },\n'
                      % (name, target, task.upper(), family, metric, score, ntest,
                         ", ".join(str(e) for e in epochs)))
        out.write("};\n")
    print("wrote", OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
