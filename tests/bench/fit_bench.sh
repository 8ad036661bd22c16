#!/bin/bash
# The bw_*, fd_*, py_*, bl_*, fm_*, fs_*, fb_*, pm_* and jb_* variables are set by read_kv (printf -v).
# shellcheck disable=SC2154
# fit_bench.sh - the numeric core against its Python peers, side by side, on
# one generated 200,000 x 100 binary classification table:
#
#   1. memory read bandwidth of this machine (a stream-like loop, 2 threads)
#   2. L2 logistic regression (C = 1, intercept unpenalized) to within 1e-4
#      relative of the optimal objective: fitd (trust-region Newton, 2
#      threads) vs scikit-learn LogisticRegression(lbfgs) and liblinear -s 0;
#      every objective is evaluated by one float64 function on the same
#      standardized data
#   3. the BLAS NumPy loaded for the peers (OpenBLAS, as every pip user's
#      NumPy has it; deploy/deps.sh bench installs it) and its GEMM GFLOP/s
#      on the network's shapes: the machine's ceiling for step 4
#   4. an mlp, one hidden layer of 256 relu units, adam, batch 256: fitd's
#      time per epoch vs scikit-learn's MLPClassifier with the same settings,
#      and fitd's GFLOP/s as a share of the ceiling of step 3
#   5. one fixed-setting logistic job end to end through the API (submit ->
#      model stored; tests/bench/fit_job.py), with search.refit false and
#      true, against scikit-learn's bare fit of step 2
#
# Builds the core and tests/bench/gentable.c with cc into tests/bench/out/
# (git-ignored), so it needs nothing but the sources. Timings are the best of
# several runs; on a machine shared with other work expect noise: each
# section prints the load average (1 minute) before and after it.
#
# fitd runs with GOMP_SPINCOUNT=10000, as the daemon does by default
# (daemon/wait_policy.c); the mlp is also timed with libgomp's default
# (threads spin long at a barrier before they sleep) and passive (they
# sleep at once).
#
#   tests/bench/fit_bench.sh [--rows N] [--mlp-epochs E] [--sklearn-mlp-epochs E]
bench_name=fit
. "$(dirname "$0")/results.sh"
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/tests/bench/out
PY=/usr/bin/python3
ROWS=200000
COLS=100
EPOCHS=5
SK_EPOCHS=5
while [ $# -gt 0 ]; do
    case $1 in
    --rows) ROWS=$2; shift 2 ;;
    --mlp-epochs) EPOCHS=$2; shift 2 ;;
    --sklearn-mlp-epochs) SK_EPOCHS=$2; shift 2 ;;
    *) echo "usage: $0 [--rows N] [--mlp-epochs E] [--sklearn-mlp-epochs E]" >&2; exit 2 ;;
    esac
done

# The peers, installed as the README's dependency script installs them; a
# peer still missing afterwards is printed as missing.
"$ROOT/deploy/deps.sh" bench >&2 || echo "fit_bench: could not install every peer" >&2

export GOMP_SPINCOUNT=10000
unset OMP_WAIT_POLICY
load() { cut -d' ' -f1 /proc/loadavg; }

mkdir -p "$OUT"
CC=${CC:-cc}
$CC -O3 -std=gnu11 -D_GNU_SOURCE -fno-math-errno -fopenmp -I"$ROOT" -o "$OUT/fit_bench" \
    "$ROOT/tests/bench/fit_bench.c" "$ROOT"/worker/fit/*.c "$ROOT"/daemon/base/*.c -lm
$CC -O2 -o "$OUT/gentable" "$ROOT/tests/bench/gentable.c" -lm
DATA=$OUT/cls_${ROWS}x${COLS}.csv
[ -s "$DATA" ] || "$OUT/gentable" --rows "$ROWS" --cols "$COLS" --task classification \
    --seed 42 --out "$DATA"

# key value lines -> shell variables prefixed by $1
read_kv() {
    local prefix=$1 k v
    while read -r k v; do
        printf -v "${prefix}_$k" '%s' "$v"
    done
}
# Figures a missing peer left unset print as "missing", ratios with them too.
secs() {
    case "$1" in *[!0-9.e+-]* | "") echo missing; return ;; esac
    printf '%.3f' "$1"
}
ratio() {
    case "$1$2" in *[!0-9.e+-]* | "") echo missing; return ;; esac
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'
}
gap() {
    case "$1$2" in *[!0-9.e+-]* | "") echo missing; return ;; esac
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2e", (a - b) / b }'
}

read_kv bw < <("$OUT/fit_bench" stream)
load_lr=$(load)
read_kv fd < <("$OUT/fit_bench" logistic "$DATA" "$OUT/fitd_weights.txt" newton 1e-3 5)
py_sklearn_seconds=missing py_sklearn_objective=missing py_sklearn_pipeline_seconds=missing
py_liblinear_seconds=missing py_liblinear_objective=missing py_fitd_objective=missing
py_optimum_objective=missing pm_sklearn_epoch_seconds=missing
read_kv py < <("$PY" "$ROOT/tests/bench/fit_bench_peers.py" logistic "$DATA" "$OUT/fitd_weights.txt" ||
    echo "scikit-learn missing" >&2)

echo "== machine: $(nproc) cores, stream read bandwidth $bw_stream_read_gbs GB/s (2 threads)"
echo
echo "== L2 logistic regression, $ROWS x $COLS, C = 1 (objective: C*sum(logloss) + |w|^2/2)," \
     "load $load_lr-$(load)"
printf '%-28s %10s %12s %12s\n' "" seconds "objective" "rel. gap"
printf '%-28s %10.3f %12s %12s\n' "fitd newton, total" "$fd_fit_seconds" "$py_fitd_objective" \
    "$(gap "$py_fitd_objective" "$py_optimum_objective")"
printf '%-28s %10.3f\n' "  of which preprocessing" "$fd_prep_seconds"
printf '%-28s %10.3f\n' "  of which solver" "$fd_solver_seconds"
printf '%-28s %10s %12s %12s\n' "scikit-learn lbfgs" "$(secs "$py_sklearn_seconds")" \
    "$py_sklearn_objective" "$(gap "$py_sklearn_objective" "$py_optimum_objective")"
printf '%-28s %10s\n' "scikit-learn scaler + lbfgs" "$(secs "$py_sklearn_pipeline_seconds")"
printf '%-28s %10s %12s %12s\n' "liblinear -s 0" "$(secs "$py_liblinear_seconds")" \
    "$py_liblinear_objective" "$(gap "$py_liblinear_objective" "$py_optimum_objective")"
echo "optimum (lbfgs, tol 1e-12): $py_optimum_objective"
echo "fitd: $fd_iterations Newton iterations, $fd_passes passes over the $fd_matrix_mb MB float32" \
     "matrix, solver at $fd_gbs GB/s (machine: $bw_stream_read_gbs GB/s)"
echo "ratio fitd total  / scikit-learn lbfgs          $(ratio "$fd_fit_seconds" "$py_sklearn_seconds")  (target <= 0.25)"
echo "ratio fitd solver / scikit-learn lbfgs          $(ratio "$fd_solver_seconds" "$py_sklearn_seconds")"
echo "ratio fitd total  / scikit-learn scaler + lbfgs $(ratio "$fd_fit_seconds" "$py_sklearn_pipeline_seconds")"
echo "ratio fitd total  / liblinear                   $(ratio "$fd_fit_seconds" "$py_liblinear_seconds")  (target <= 0.5)"
echo

bl_blas_library=missing bl_blas_threads=missing bl_gemm_gflops_f32=missing bl_gemm_gflops_f64=missing
read_kv bl < <("$PY" "$ROOT/tests/bench/fit_bench_peers.py" blas || echo "numpy missing" >&2)
echo "== peers' BLAS: $bl_blas_library, $bl_blas_threads threads;" \
     "GEMM on the mlp's shapes: $bl_gemm_gflops_f32 GFLOP/s float32, $bl_gemm_gflops_f64 float64"
echo

load_mlp=$(load)
read_kv fm < <("$OUT/fit_bench" mlp "$DATA" "$EPOCHS")
# The same with libgomp's default, threads that spin long at a barrier
# before they sleep, and passive, threads that sleep at once: on cores busy
# with other work a long spin burns the time slice its partner needs, and
# the mlp meets the team's barriers a few times per batch.
fs_epoch_seconds=missing fs_gflops=missing fb_epoch_seconds=missing fb_gflops=missing
read_kv fs < <(env -u GOMP_SPINCOUNT "$OUT/fit_bench" mlp "$DATA" "$EPOCHS")
read_kv fb < <(env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=passive "$OUT/fit_bench" mlp "$DATA" "$EPOCHS")
read_kv pm < <("$PY" "$ROOT/tests/bench/fit_bench_peers.py" mlp "$DATA" "$SK_EPOCHS" ||
    echo "scikit-learn missing" >&2)
echo "== mlp 100-256-1, relu, adam, batch 256, $ROWS rows (fitd $EPOCHS epochs, scikit-learn $SK_EPOCHS)," \
     "load $load_mlp-$(load)"
printf '%-28s %10s\n' "" "s/epoch"
printf '%-28s %10.3f   %s GFLOP/s (gemm kernel %s)\n' "fitd (spin 10000, the daemon's)" \
    "$fm_epoch_seconds" "$fm_gflops" "$fm_gemm_kernel"
printf '%-28s %10s   %s GFLOP/s\n' "fitd, libgomp's default spin" "$(secs "$fs_epoch_seconds")" "$fs_gflops"
printf '%-28s %10s   %s GFLOP/s\n' "fitd, OMP_WAIT_POLICY=passive" "$(secs "$fb_epoch_seconds")" "$fb_gflops"
printf '%-28s %10s\n' "scikit-learn MLPClassifier" "$(secs "$pm_sklearn_epoch_seconds")"
echo "ratio fitd / scikit-learn per epoch           $(ratio "$fm_epoch_seconds" "$pm_sklearn_epoch_seconds")  (target <= 0.25)"
echo "fitd's share of the GEMM ceiling              $(ratio "$fm_gflops" "$bl_gemm_gflops_f32")  (target >= 0.60)"
echo "the same with libgomp's default spin          $(ratio "$fs_gflops" "$bl_gemm_gflops_f32")," \
     "per epoch $(ratio "$fs_epoch_seconds" "$pm_sklearn_epoch_seconds")× scikit-learn"
echo

# 5. One fixed-setting logistic job through the API (a release build of
# fitd, 2 worker threads): submit -> model stored, with search.refit false
# (one fit, on the holdout's training rows) and true (the trial, then the
# refit), against scikit-learn's bare fit of section 2.
root=$ROOT
. "$ROOT/tests/bench/fitd_daemon.sh"
fitd_bin
jstate=$(mktemp -d)
trap 'stop_daemon; rm -rf "$jstate"' EXIT
load_job=$(load)
start_daemon "$jstate/state" "$jstate/fitd.log" 2 >/dev/null
jb_job_seconds=missing jb_job_refit_seconds=missing jb_trial_ms=missing jb_refit_trial_ms=missing
read_kv jb < <("$PY" "$ROOT/tests/bench/fit_job.py" "$addr" "$DATA" || echo "the job failed" >&2)
stop_daemon
echo "== one fixed-setting logistic job (newton, l2, holdout 0.2), $ROWS x $COLS, through the API," \
     "load $load_job-$(load)"
printf '%-28s %10s   trial %s ms\n' "fitd, refit false" "$(secs "$jb_job_seconds")" "$jb_trial_ms"
printf '%-28s %10s   trial %s ms\n' "fitd, refit true" "$(secs "$jb_job_refit_seconds")" "$jb_refit_trial_ms"
printf '%-28s %10s\n' "scikit-learn lbfgs, bare fit" "$(secs "$py_sklearn_seconds")"
echo "ratio fitd job (refit false) / scikit-learn fit $(ratio "$jb_job_seconds" "$py_sklearn_seconds")  (target <= 1.0)"
