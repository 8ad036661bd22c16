#!/bin/sh
# Installs what is missing, builds fitd with warnings as errors and runs the
# whole test suite twice: a normal build, then under ASan and UBSan.
set -eu
cd "$(dirname "$0")/.."
deploy/deps.sh test

run_suite() {
	dir=$1
	shift
	[ -d "$dir" ] || meson setup "$dir" -Dwerror=true "$@"
	meson compile -C "$dir"
	meson test -C "$dir" --print-errorlogs -v
}

run_suite build-ci
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run_suite build-ci-asan -Db_sanitize=address,undefined -Db_lundef=false
