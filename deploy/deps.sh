#!/bin/sh
# Installs the Debian packages fitd needs that are not installed yet.
# Usage: deploy/deps.sh [build|test|bench]   (each level includes the previous)
set -eu

level=${1:-build}
pkgs="gcc meson ninja-build pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev
libuv1-dev check libsystemd-dev libcurl4-openssl-dev nettle-dev zlib1g-dev libpq-dev"
case "$level" in
test | bench)
	# prometheus for its promtool, which checks GET /metrics (test_metrics.py);
	# wrk for the load test (test_load.py); groff-base and mandoc check the man
	# page, systemd-container boots a container to test deploy/install.sh
	# under systemd (tests/deploy); nodejs and npm for the OpenAPI validator
	# (test_openapi.py); clang, its libFuzzer and its OpenMP build the fuzzers
	# (tests/fuzz/); clang-format checks the formatting (deploy/test.sh);
	# chromium runs the dashboard's browser test (tests/browser/);
	# postgresql-15 is the server the PostgreSQL store's tests start
	# (tests/pg/pgserver.sh), socat the proxy its fault tests cut
	pkgs="$pkgs python3 sqlite3 systemd curl clang clang-format libclang-rt-14-dev libomp-dev prometheus wrk
groff-base mandoc systemd-container nodejs chromium postgresql-15 socat"
	# A nodejs package that ships npm itself (NodeSource's) conflicts with Debian's npm.
	command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm" ;;
esac
case "$level" in
bench)
	# The peers the benchmarks compare with, as their users have them:
	# NumPy on OpenBLAS (as every pip wheel ships it), scikit-learn,
	# XGBoost, Optuna and liblinear (its tools and its Python module).
	pkgs="$pkgs python3-pandas python3-sklearn python3-xgboost python3-optuna
python3-liblinear liblinear-tools libopenblas0-pthread" ;;
esac

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "installing:$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
