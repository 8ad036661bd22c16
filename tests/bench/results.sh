# results.sh - sourced first by every benchmark script:
#
#   bench_name=NAME
#   . "$(dirname "$0")/results.sh"
#
# runs the script again with its output shown and also written to
# tests/bench/results/NAME.txt, under a header saying when, on which commit
# and on what machine it ran. The file is replaced only when the benchmark
# succeeds, so it always holds the last complete run; the README points
# there instead of copying figures that would go stale. FITD_BENCH_RESULTS
# names another directory; FITD_BENCH_RESULTS=none writes nothing.
# shellcheck shell=sh
if [ -z "${FITD_BENCH_TEE:-}" ] && [ "${FITD_BENCH_RESULTS:-}" != none ]; then
	results_name=$bench_name
	results_dir=${FITD_BENCH_RESULTS:-$(cd "$(dirname "$0")" && pwd)/results}
	mkdir -p "$results_dir"
	results_tmp=$(mktemp)
	export FITD_BENCH_TEE=1
	{
		echo "# $results_name: $(date -u '+%Y-%m-%d %H:%M UTC'), commit" \
			"$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
			"$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
			"$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
		"$0" "$@" 2>&1
		echo $? >"$results_tmp"
	} | tee "$results_dir/$results_name.txt.new"
	results_rc=$(cat "$results_tmp")
	rm -f "$results_tmp"
	if [ "$results_rc" -eq 0 ]; then
		mv "$results_dir/$results_name.txt.new" "$results_dir/$results_name.txt"
	else
		rm -f "$results_dir/$results_name.txt.new"
		echo "$results_name failed (exit $results_rc); $results_dir/$results_name.txt keeps the last run" >&2
	fi
	exit "$results_rc"
fi
