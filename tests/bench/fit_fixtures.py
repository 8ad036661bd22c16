#!/usr/bin/python3
"""Writes tests/fit/fixture_logistic.h: reference optima of L2-regularized
logistic regression computed by scikit-learn at very tight tolerance, which
tests/fit/test_logistic.c compares fitd's lbfgs and newton solvers against.

The problems: every row of breast_cancer.csv (binary) and iris.csv
(multinomial, 3 classes), features standardized with the population standard
deviation (what fitd's preprocessing does), C = 1, intercept unpenalized.
scikit-learn's objective C * sum(loss) + |W|^2 / 2 is n * C times fitd's mean
loss + |W|^2 / (2 C n), so the minimizers are the same.

Run from the repository root: /usr/bin/python3 tests/bench/fit_fixtures.py
"""
import os
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
OUT = os.path.join(HERE, "..", "fit", "fixture_logistic.h")


def fit(name, target):
    df = pd.read_csv(os.path.join(DATA, name))
    y = df[target].astype(str).values
    x = df.drop(columns=[target]).values.astype(np.float64)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    model = LogisticRegression(C=1.0, tol=1e-14, max_iter=100000, solver="lbfgs")
    model.fit(x, y)
    polish(model, x, y)
    return model, x, y


def polish(model, x, y):
    """Exact Newton steps on C * sum(loss) + |W|^2 / 2 from scikit-learn's
    answer, so the fixture is the optimum to ~1e-12 rather than wherever
    L-BFGS-B's stopping rule left it; prints the gradient norm before/after."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    classes = list(model.classes_)
    binary = len(classes) == 2
    k = 1 if binary else len(classes)
    target = np.zeros((n, k))
    for i, c in enumerate(y):
        if binary:
            target[i, 0] = c == classes[1]
        else:
            target[i, classes.index(c)] = 1.0
    w = np.hstack([model.coef_, model.intercept_[:, None]])  # k x (d + 1)
    reg = np.ones(d + 1)
    reg[d] = 0.0
    for step in range(8):
        z = xb @ w.T
        if binary:
            p = 1.0 / (1.0 + np.exp(-z))
        else:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
        g = ((p - target).T @ xb + w * reg).ravel()
        if binary:
            h = xb.T @ (xb * (p * (1 - p)))
        else:
            h = np.einsum("ni,nj,nk,kl->kilj", xb, xb, p, np.eye(k)) - \
                np.einsum("ni,nj,nk,nl->kilj", xb, xb, p, p)
            h = h.reshape(k * (d + 1), k * (d + 1))
        h = h + np.diag(np.tile(reg, k))
        print("  newton %d: |grad| = %.3e" % (step, np.linalg.norm(g)))
        w = w - np.linalg.lstsq(h, g, rcond=None)[0].reshape(k, d + 1)
    model.coef_ = w[:, :d]
    model.intercept_ = w[:, d]


def emit(out, prefix, model):
    coef, icpt = model.coef_, model.intercept_
    out.write("static const double %s_coef[%d][%d] = {\n" % (prefix, coef.shape[0], coef.shape[1]))
    for row in coef:
        out.write("\t{\n" + wrap(row, "\t\t") + "\t},\n")
    out.write("};\n")
    out.write("static const double %s_intercept[%d] = {\n%s};\n\n"
              % (prefix, len(icpt), wrap(icpt, "\t")))


def wrap(values, indent):
    """Numbers three to a line, so the header stays within 100 columns."""
    text = ["%.17g" % v for v in values]
    return "".join(indent + ", ".join(text[i:i + 3]) + ",\n" for i in range(0, len(text), 3))


def main():
    with open(OUT, "w") as out:
        out.write("/*\n * fixture_logistic.h - reference optima for test_logistic.c, written by\n"
                  " * tests/bench/fit_fixtures.py (scikit-learn %s, LogisticRegression(C=1,\n"
                  " * solver=\"lbfgs\", tol=1e-14, max_iter=100000) on standardized features,\n"
                  " * then polished by exact Newton steps in float64 to |grad| ~ 1e-14).\n"
                  " * Do not edit; rerun the script.\n */\n" % __import__("sklearn").__version__)
        for prefix, name, target in (("bc", "breast_cancer.csv", "diagnosis"),
                                     ("iris", "iris.csv", "species")):
            model, x, y = fit(name, target)
            grad_note = model.n_iter_
            out.write("/* %s: %d rows, classes %s, %s iterations */\n"
                      % (name, x.shape[0], " ".join(model.classes_), grad_note))
            emit(out, prefix, model)
    print("wrote", OUT)


if __name__ == "__main__":
    sys.exit(main())
