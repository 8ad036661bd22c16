#!/bin/sh
# scaleout.sh - several fitd daemons on one PostgreSQL, beside the floor of
# the database itself, in one run (tests/bench/scaleout.py says what is
# measured):
#
#   tests/bench/scaleout.sh [FITD]
#
# Without FITD it builds fitd in build-bench/ (a release build). The server
# is a private PostgreSQL 15 with fsync on (tests/pg/pgserver.sh).
# SECONDS_PER=seconds per pgbench run (default 8), TRIALS=trials per job
# (default 200).
bench_name=scaleout
. "$(dirname "$0")/results.sh"
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
"$root/deploy/deps.sh" test >&2 || echo "scaleout: could not install postgresql-15" >&2
if [ $# -ge 1 ]; then
	fitd=$1
else
	build=${FITD_BENCH_BUILD:-$root/build-bench}
	[ -d "$build" ] || meson setup "$build" "$root" --buildtype=release >/dev/null
	meson compile -C "$build" daemon/fitd >/dev/null
	fitd=$build/daemon/fitd
fi
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
FITD_BIN=$fitd FITD_PG_FSYNC=1 PYTHONPATH="$root/tests/integration" \
	exec "$root/tests/pg/pgserver.sh" /usr/bin/python3 "$here/scaleout.py"
