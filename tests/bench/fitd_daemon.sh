# fitd_daemon.sh - sourced by quality.sh and families.sh: builds fitd when
# no binary is given, and starts and stops one daemon for a benchmark.
#
#   fitd_bin "$@"                 sets $fitd (the first argument, or a release
#                                 build in build-bench/, FITD_BENCH_BUILD overrides)
#   start_daemon STATE LOG CORES  starts it on 127.0.0.1:0 with CORES worker
#                                 threads, waits for event=ready, sets $addr
#   stop_daemon                   stops it (also on exit: the caller's trap)
# shellcheck shell=sh
pid=

fitd_bin() {
	if [ $# -ge 1 ]; then
		fitd=$1
	else
		build=${FITD_BENCH_BUILD:-$root/build-bench}
		[ -d "$build" ] || meson setup "$build" "$root" --buildtype=release >/dev/null
		meson compile -C "$build" daemon/fitd >/dev/null
		fitd=$build/daemon/fitd
	fi
}

start_daemon() {
	"$fitd" --listen 127.0.0.1:0 --state-dir "$1" --worker-threads "$3" 2>"$2" &
	pid=$!
	tries=0
	while ! grep -qs 'event=ready' "$2"; do
		if ! kill -0 "$pid" 2>/dev/null || [ "$tries" -ge 200 ]; then
			echo "fitd did not become ready; its log:" >&2
			cat "$2" >&2
			exit 1
		fi
		tries=$((tries + 1))
		sleep 0.1
	done
	addr=$(sed -n 's/.*event=listening.* addr=\([^ ]*\).*/\1/p' "$2" | head -n 1)
	echo "fitd $fitd on $addr (log $2)"
}

stop_daemon() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
}
