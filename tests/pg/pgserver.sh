#!/bin/sh
# Runs a command beside a private PostgreSQL 15 server:
#
#   tests/pg/pgserver.sh COMMAND [ARG...]
#
# initdb into a new temporary directory (as nobody when run as root: the
# server refuses to run as root), start the server on a free loopback port
# with its socket in that directory, create database fitd, then run COMMAND
# with FITD_TEST_STORE=postgresql://fitd@127.0.0.1:PORT/fitd in its
# environment. Whatever COMMAND does, the server is stopped and its
# directory removed after it; the exit status is COMMAND's.
#
# The binaries are Debian's (postgresql-15): /usr/lib/postgresql/15/bin, or
# FITD_PG_BIN. The server runs without fsync (a test's data need not outlive
# the test) unless FITD_PG_FSYNC=1, for measurements.
set -eu

bin=${FITD_PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$bin/postgres" ]; then
	echo "pgserver.sh: no PostgreSQL 15 in $bin (deploy/deps.sh test installs postgresql-15)" >&2
	exit 77 # meson: skipped
fi
dir=$(mktemp -d /tmp/fitd-pg-XXXXXX)
as=""
if [ "$(id -u)" -eq 0 ]; then
	chown nobody "$dir"
	as="runuser -u nobody --"
fi

stop() {
	$as "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

$as "$bin/initdb" -D "$dir/data" -A trust -U fitd -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; exit 1; }

# A free port can be taken between the look and the start: try a few.
nosync="-F"
[ "${FITD_PG_FSYNC:-0}" = 1 ] && nosync=""
started=""
for try in 1 2 3 4 5; do
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	if $as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-h 127.0.0.1 -p $port -k $dir $nosync -c max_connections=200" start >/dev/null 2>&1; then
		started=yes
		break
	fi
done
if [ -z "$started" ]; then
	echo "pgserver.sh: the server did not start:" >&2
	cat "$dir/server.log" >&2
	exit 1
fi
"$bin/createdb" -h 127.0.0.1 -p "$port" -U fitd fitd

FITD_TEST_STORE="postgresql://fitd@127.0.0.1:$port/fitd"
FITD_TEST_PG_DIR="$dir"
FITD_TEST_PG_PORT="$port"
export FITD_TEST_STORE FITD_TEST_PG_DIR FITD_TEST_PG_PORT
status=0
"$@" || status=$?
exit $status
