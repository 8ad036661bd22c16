#!/bin/sh
# svm_dcd.sh - fitd's linear SVM solver (dcd, the dual coordinate descent of
# worker/fit/dcd.c) against liblinear's own (liblinear-train -s 1 and -s 3,
# -B 1) on breast_cancer, standardized as fitd does: for each loss, C in
# 0.1, 1, 10 and tolerance 0.1 and 1e-4, both solvers' iterations, time,
# distance to the optimum in one float64 objective, and how far apart their
# weights are (tests/bench/svm_dcd.py says how). Fails when, at tol 1e-4,
# the two disagree where liblinear converged.
#
#   tests/bench/svm_dcd.sh
#
# Builds the core and tests/bench/fit_bench.c with cc into tests/bench/out/
# (git-ignored), as fit_bench.sh does.
bench_name=svm_dcd
. "$(dirname "$0")/results.sh"
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/tests/bench/out
"$ROOT/deploy/deps.sh" bench >/dev/null 2>&1 || echo "svm_dcd: could not install every peer" >&2
command -v liblinear-train >/dev/null || { echo "svm_dcd: liblinear-train is missing" >&2; exit 1; }
mkdir -p "$OUT"
CC=${CC:-cc}
$CC -O3 -std=gnu11 -D_GNU_SOURCE -fno-math-errno -fopenmp -I"$ROOT" -o "$OUT/fit_bench" \
    "$ROOT/tests/bench/fit_bench.c" "$ROOT"/worker/fit/*.c "$ROOT"/daemon/base/*.c -lm
echo "svm_dcd: breast_cancer (569 x 30), one thread; liblinear-tools $(dpkg-query -W -f='${Version}' liblinear-tools 2>/dev/null || echo '?')"
/usr/bin/python3 "$ROOT/tests/bench/svm_dcd.py" "$OUT/fit_bench" "$ROOT/tests/data/breast_cancer.csv" \
    diagnosis "$OUT"
