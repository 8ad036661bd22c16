#!/bin/sh
# families.sh - is each of fitd's model families as good as scikit-learn's
# default of that family? On the quality tables (quality.sh's, without the
# generated large one), each family alone:
#
#   fitd     {"space":{"models":[FAMILY]},"search":{"max_trials":8,"seed":0}}
#            for linear (regression), logistic (classification), svm, mlp and
#            gbdt, and the row svm_dcd: svm with "optimizer":["dcd"], its own
#            solver alone, against LinearSVC too; a family the daemon refuses
#            (gbdt before it has one, svm for regression if it has none) is
#            probed with the submit and skipped with its answer printed
#   sklearn  LinearRegression(), LogisticRegression(), LinearSVC() /
#            LinearSVR(), MLPClassifier() / MLPRegressor(),
#            HistGradientBoostingClassifier() / Regressor(), each after the
#            same imputation, scaling and one-hot encoding as quality.sh's
#            optuna peer (quality_peer.py families)
#
# on the same 80/20 split (seed 0), one after the other, each with CORES.
# Per family and table it prints whether fitd "holds" (accuracy at most
# 0.02 below scikit-learn's, RMSE at most 5% above) and per family the share
# of tables held.
#
#   tests/bench/families.sh [FITD]
#
# Builds the daemon like quality.sh; output in tests/bench/out/quality/
# (the splits are shared with quality.sh). CORES (default 2), QUALITY_TABLES
# and FAMILIES (rows to run, e.g. "svm svm_dcd") override. Exits 1 if a fitd
# job failed (a refusal is not a failure) or something failed to run.
bench_name=families
. "$(dirname "$0")/results.sh"
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cores=${CORES:-2}
python=/usr/bin/python3
start=$(date +%s)
. "$here/fitd_daemon.sh"
fitd_bin "$@"
"$root/deploy/deps.sh" bench >/dev/null 2>&1 || echo "families: could not install every peer" >&2

out=${FITD_BENCH_DIR:-$here/out}/quality
mkdir -p "$out"
echo "families: 8 trials per fitd family vs scikit-learn's default, $cores cores; output in $out"
QUALITY_TABLES=${QUALITY_TABLES:-$("$python" -c 'import sys; sys.path.insert(0, sys.argv[1]); import quality; print(" ".join(t[0] for t in quality.ALL_TABLES if t[0] != "large"))' "$here")}
export QUALITY_TABLES
"$python" "$here/quality.py" split "$out"

state=$(mktemp -d "${TMPDIR:-/tmp}/fitd-families-XXXXXX")
trap 'stop_daemon; rm -rf "$state"' EXIT
trap 'exit 1' INT TERM HUP
start_daemon "$state" "$out/fitd-families.log" "$cores"
fitd_rc=0
"$python" "$here/quality.py" families-fitd "http://$addr" "$out" || fitd_rc=$?
stop_daemon

peer_rc=0
"$python" "$here/quality_peer.py" families "$out" || peer_rc=$?

echo
table_rc=0
"$python" "$here/quality.py" families "$out" || table_rc=$?
echo "total $(($(date +%s) - start)) s"
[ "$fitd_rc" -eq 0 ] && [ "$peer_rc" -eq 0 ] && [ "$table_rc" -eq 0 ]
