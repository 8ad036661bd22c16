#!/bin/sh
# quality.sh - how good are fitd's models for a fixed time budget? fitd
# against Optuna TPE driving scikit-learn and against XGBoost's defaults,
# side by side, on 18 public tables (150 to 100,000 rows; regression,
# binary and multi-class; numeric, categorical and missing values: the
# five of tests/data/ and tests/bench/quality_data/, whose SOURCES.md says
# where each comes from) and one generated 1,000,000 x 28 binary table with
# interactions ("large", 60 s):
#
#   1. every table is split once, 80/20, seed 0 (stratified for
#      classification) into OUT/NAME/train.csv and test.csv (quality.py)
#   2. fitd: one daemon (temporary state directory, 127.0.0.1:0, CORES
#      worker threads); per table, upload train.csv (raw: fitd types the
#      columns, encodes categoricals and fills missing values itself) and
#      submit {"dataset","target","task","metric","search":{"max_seconds":
#      BUDGET,"seed":0}}, poll until the job ends, predict test.csv
#   3. optuna: TPESampler(seed=0) over LogisticRegression / LinearSVC /
#      MLPClassifier / HistGradientBoostingClassifier (Ridge / LinearSVR /
#      MLPRegressor / HistGradientBoostingRegressor), each after imputation,
#      scaling and one-hot encoding, mean 3-fold CV, study.optimize(timeout=
#      BUDGET, n_jobs=CORES), best refit on the train split
#   4. xgboost: XGBClassifier() / XGBRegressor() defaults, tree_method
#      "hist", n_jobs=CORES, categorical columns one-hot encoded
#   5. one table: per dataset the held-out score of each side (scored by one
#      function: accuracy, with AUC for binary tasks, or RMSE), trials, wall
#      times and who wins against each peer (ties: within one test row for
#      accuracy, within 0.5% relative for RMSE), with how sure a win or a
#      loss against optuna is (the share of 1,000 bootstrap resamples of the
#      test rows that keep it); then "fitd >= optuna on K of N; fitd >=
#      xgboost on M of N", the wins and losses 95% of the resamples keep,
#      and whether every fitd job ended within max_seconds + 1 s
#
# The sides run one after the other, never together, each with the same
# CORES; the machine may be shared, so every table's line and the progress
# lines carry /proc/loadavg. quality_peer.py says how each peer is set up.
#
#   tests/bench/quality.sh [FITD]
#   BUDGETS="10 30 60" tests/bench/quality.sh [FITD]
#
# The second form is the budgets sweep: fitd alone on the small tables
# (under 1,000 training rows) at each budget, seed 0, printing the held-out
# score per budget and flagging a table where a larger budget scores worse
# by more than one test row's worth; it records its run as quality_budgets.
#
# Without an argument it builds the daemon in build-bench/ (a release build;
# FITD_BENCH_BUILD overrides). Output goes to tests/bench/out/quality/ (or
# $FITD_BENCH_DIR/quality). BUDGET (seconds per table and side, default 30),
# LARGE_BUDGET (default 60), CORES (default 2) and QUALITY_TABLES (names,
# default all) override. Exits 0 whoever wins, 1 if fitd failed on a table
# or fitd's side failed to run; a peer that fails on a table prints FAILED
# in its column, a missing peer prints as missing.
bench_name=quality
[ -n "${BUDGETS:-}" ] && bench_name=quality_budgets
. "$(dirname "$0")/results.sh"
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
budget=${BUDGET:-30}
cores=${CORES:-2}
python=/usr/bin/python3
start=$(date +%s)
. "$here/fitd_daemon.sh"
fitd_bin "$@"

# The peers, installed as the README's dependency script installs them.
"$root/deploy/deps.sh" bench >/dev/null 2>&1 || echo "quality: could not install every peer" >&2

out=${FITD_BENCH_DIR:-$here/out}/quality
mkdir -p "$out"
if [ -n "${BUDGETS:-}" ]; then
	echo "budgets sweep: fitd at $BUDGETS s on the small tables, $cores cores; output in $out"
else
	echo "budget ${budget} s per table and side (large: ${LARGE_BUDGET:-60} s), $cores cores; output in $out"
fi

# 1. the splits
"$python" "$here/quality.py" split "$out"

# 2. fitd. The trap stops the daemon and removes its state on any exit.
state=$(mktemp -d "${TMPDIR:-/tmp}/fitd-quality-XXXXXX")
trap 'stop_daemon; rm -rf "$state"' EXIT
trap 'exit 1' INT TERM HUP
log=$out/fitd.log
[ -n "${BUDGETS:-}" ] && log=$out/fitd-sweep.log  # keep the full run's log apart
start_daemon "$state" "$log" "$cores"

fitd_rc=0
if [ -n "${BUDGETS:-}" ]; then
	for b in $BUDGETS; do
		echo "== fitd, budget $b s"
		"$python" "$here/quality.py" fitd "http://$addr" "$out" "$b" "$b" || fitd_rc=$?
	done
	stop_daemon
	echo
	# shellcheck disable=SC2086
	"$python" "$here/quality.py" sweep "$out" $BUDGETS || fitd_rc=1
	echo "total $(($(date +%s) - start)) s"
	exit "$fitd_rc"
fi
"$python" "$here/quality.py" fitd "http://$addr" "$out" "$budget" || fitd_rc=$?
stop_daemon

# 3. optuna, one thread per trial (its BLAS printed first: OpenBLAS, as
# NumPy from pip has it): n_jobs threads share the cores, so BLAS
# and OpenMP inside scikit-learn must not start their own.
peer_rc=0
echo "peers' BLAS: $("$python" -c 'import numpy; from threadpoolctl import threadpool_info as t
print(",".join("%s-%s" % (i["internal_api"], i["version"]) for i in t() if i["user_api"] == "blas") or "none")' 2>&1 | tail -1)"
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	"$python" "$here/quality_peer.py" optuna "$out" "$budget" "$cores" || peer_rc=$?

# 4. xgboost, CORES threads of its own
"$python" "$here/quality_peer.py" xgboost "$out" "$cores" || peer_rc=$?

# 5. the table; quality.py exits 1 if fitd has no result for a table
echo
table_rc=0
"$python" "$here/quality.py" table "$out" "$budget" || table_rc=$?
echo "total $(($(date +%s) - start)) s"
# A peer that fails on a table (Optuna finishing no trial on a million
# rows) shows as FAILED in its column and leaves that table out of its
# count; it does not throw away fitd's figures.
[ "$peer_rc" -eq 0 ] || echo "a peer failed on some table: see FAILED above"
[ "$fitd_rc" -eq 0 ] && [ "$table_rc" -eq 0 ]
