#!/bin/sh
# quality.sh - how good are fitd's models for a fixed time budget? fitd
# against Optuna TPE driving scikit-learn, side by side, on iris, wine,
# breast_cancer, digits and diabetes (tests/data/):
#
#   1. every table is split once, 80/20, seed 0 (stratified for the
#      classification ones) into OUT/NAME/train.csv and test.csv
#   2. fitd: one daemon (temporary state directory, 127.0.0.1:0, all CORES
#      given to training); per table, upload train.csv and submit
#      {"dataset","target","metric","search":{"max_seconds":BUDGET,"seed":0}},
#      poll until the job ends, then predict test.csv with the best model
#   3. optuna: TPESampler(seed=0) choosing among LogisticRegression /
#      LinearSVC / MLPClassifier (Ridge / LinearSVR / MLPRegressor for
#      regression), each after a StandardScaler, scored by mean 3-fold CV,
#      study.optimize(timeout=BUDGET, n_jobs=CORES); the best is refit on the
#      whole train split and predicts test.csv (tests/bench/quality_peer.py)
#   4. both sets of test predictions are scored by the same code (accuracy,
#      or RMSE for diabetes) and printed as one table, ending with
#      "fitd >= optuna on K of 5 datasets"
#
# The two sides run one after the other, never together, so each has the
# cores to itself. fitd's wall time runs from the submit to the job's end;
# optuna's from the study's start through the refit. fitd's trials are the
# job's progress.trials_done (completed and pruned), optuna's its completed
# trials.
#
#   tests/bench/quality.sh [FITD]
#
# Without an argument it builds the daemon in build-bench/ (a release build;
# FITD_BENCH_BUILD overrides). Output goes to tests/bench/out/quality/ (or
# $FITD_BENCH_DIR/quality). BUDGET (seconds per table and side, default 30)
# and CORES (default 2) override. Exits 0 whatever K is, 1 if something
# failed to run.
bench_name=quality
. "$(dirname "$0")/results.sh"
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
budget=${BUDGET:-30}
cores=${CORES:-2}
python=/usr/bin/python3

if [ $# -ge 1 ]; then
    fitd=$1
else
    build=${FITD_BENCH_BUILD:-$root/build-bench}
    [ -d "$build" ] || meson setup "$build" "$root" --buildtype=release >/dev/null
    meson compile -C "$build" daemon/fitd >/dev/null
    fitd=$build/daemon/fitd
fi

out=${FITD_BENCH_DIR:-$here/out}/quality
mkdir -p "$out"
echo "budget ${budget} s per table and side, ${cores} cores; output in $out"

# 1. the splits
"$python" "$here/quality.py" split "$root/tests/data" "$out"

# 2. fitd. The trap stops the daemon and removes its state on any exit.
state=$(mktemp -d "${TMPDIR:-/tmp}/fitd-quality-XXXXXX")
log=$out/fitd.log
pid=
stop_daemon() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=
    fi
}
trap 'stop_daemon; rm -rf "$state"' EXIT
trap 'exit 1' INT TERM HUP

"$fitd" --listen 127.0.0.1:0 --state-dir "$state" --worker-threads "$cores" 2>"$log" &
pid=$!

# Wait for event=ready; the port is in the event=listening line.
addr=
tries=0
while ! grep -q 'event=ready' "$log"; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$tries" -ge 200 ]; then
        echo "fitd did not become ready; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
    tries=$((tries + 1))
    sleep 0.1
done
addr=$(sed -n 's/.*event=listening.* addr=\([^ ]*\).*/\1/p' "$log" | head -n 1)
echo "fitd $fitd on $addr (log $log)"

fitd_rc=0
"$python" "$here/quality.py" fitd "http://$addr" "$out" "$budget" || fitd_rc=$?
stop_daemon

# 3. optuna, one thread per trial: n_jobs threads share the cores, so BLAS
# and OpenMP inside scikit-learn must not start their own.
peer_rc=0
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    "$python" "$here/quality_peer.py" "$out" "$budget" "$cores" || peer_rc=$?

# 4. the table; quality.py exits 1 if a result is missing
table_rc=0
"$python" "$here/quality.py" table "$out" || table_rc=$?
[ "$fitd_rc" -eq 0 ] && [ "$peer_rc" -eq 0 ] && [ "$table_rc" -eq 0 ]
