#!/bin/sh
# Installs what is missing, checks the formatting of every C file, builds
# fitd with warnings as errors and runs the whole test suite twice: a normal
# build, then under ASan and UBSan; then the trial pool and the scheduler
# under TSan; then the parsers' fuzzers for 50 s each.
set -eu
cd "$(dirname "$0")/.."
deploy/deps.sh test

# Formatting: every C file as the checked-in .clang-format has it (STYLE.md;
# Debian 12's clang-format 14).
{ git ls-files '*.c' '*.h' 2>/dev/null || find . -path ./build\* -prune -o -name '*.[ch]' -print; } |
	xargs clang-format --dry-run -Werror

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

# TSan: the trial pool's tests, then the daemon itself with several jobs,
# event streams, a cancel, a reload and a restart (test_races.py). OpenMP
# runs with one thread here: libgomp is not built with TSan, so the barrier
# ending a parallel region is invisible to it, and memory its team touched
# looks raced when the trial later frees it. (The regions are data-parallel
# loops over disjoint rows whose results tests/fit checks bit-identical
# across thread counts.)
[ -d build-ci-tsan ] || meson setup build-ci-tsan -Dwerror=true -Db_sanitize=thread -Db_lundef=false
meson compile -C build-ci-tsan
OMP_THREAD_LIMIT=1 TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
	meson test -C build-ci-tsan --no-rebuild --print-errorlogs -v worker_pool integration-races

# libFuzzer: each parser's harness (tests/fuzz/) for 50 s under ASan and
# UBSan, on a copy of its seed corpus; a crash, leak, sanitizer report or
# timeout fails the run and leaves the input in build-ci-fuzz/run/. (The
# seeds and past crashes are also replayed by the suites above.)
[ -d build-ci-fuzz ] || CC=clang meson setup build-ci-fuzz -Dfuzz=enabled -Dtests=disabled \
	-Db_sanitize=address,undefined -Db_lundef=false
meson compile -C build-ci-fuzz tests/fuzz/fuzz_csv tests/fuzz/fuzz_spec tests/fuzz/fuzz_router
rm -rf build-ci-fuzz/run
for h in csv spec router; do
	mkdir -p build-ci-fuzz/run/$h
	cp tests/fuzz/corpus/$h/* build-ci-fuzz/run/$h/
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 build-ci-fuzz/tests/fuzz/fuzz_$h \
		-dict=tests/fuzz/$h.dict -max_total_time=50 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build-ci-fuzz/run/ build-ci-fuzz/run/$h
done
