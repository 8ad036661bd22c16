#!/bin/bash
# latency.sh - how fast fitd answers status polls while every trial thread
# trains. wrk hammers GET /v1/jobs/{id} for DURATION seconds (default 20)
# with 4 connections, three times:
#
#   idle      no job is training
#   default   a search saturates the trial threads; one core is reserved for
#             the API (--reserved-cores 1, the default)
#   all-cores the same search with --reserved-cores 0: trials on every core
#
# and prints p50, p99 and requests per second of each, with how many cores
# the daemon kept busy meanwhile. wrk asks as fast as it can and so takes a
# core of its own; each run is therefore measured a second time by a paced
# client (/usr/bin/python3, 200 requests per second on one keep-alive
# connection) that leaves the trials their cores. The target is p99 under
# 20 ms on a 2-core machine while the trials train.
#
# A fourth run, submit, times POST /v1/jobs itself: job specs on a
# generated 200,000 x 100 table (190 MB of CSV, kept in tests/bench/out/
# or $FITD_BENCH_DIR) while the same search saturates the trial threads,
# paced at 10 a second on one connection (--max-running-jobs 1 keeps the
# submitted jobs queued, so only their validation and commit are timed).
# A submission reads the column facts kept at upload, never the table, so
# its p99 should be that of a status poll, whatever the table's size.
#
#   tests/bench/latency.sh [FITD [GENTABLE]]
#
# Without arguments it builds fitd and gentable in build-bench/ (a release
# build); with FITD alone, gentable is built in FITD's build directory.
# DURATION overrides the seconds per measurement; RUNS the runs made (a
# list of idle, default, all-cores, submit; default all).
bench_name=latency
. "$(dirname "$0")/results.sh"
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
duration=${DURATION:-20}

runs=${RUNS:-idle default all-cores submit}

if [ $# -ge 1 ]; then
	fitd=$1
	build=$(cd "$(dirname "$fitd")/.." && pwd)
else
	build=${FITD_BENCH_BUILD:-$root/build-bench}
	[ -d "$build" ] || meson setup "$build" "$root" --buildtype=release >/dev/null
	meson compile -C "$build" daemon/fitd >/dev/null
	fitd=$build/daemon/fitd
fi
if [ $# -ge 2 ]; then
	gentable=$2
else
	gentable=$build/tests/bench/gentable
	case " $runs " in *" submit "*) meson compile -C "$build" tests/bench/gentable >/dev/null ;; esac
fi
command -v wrk >/dev/null || { echo "latency.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d /tmp/fitd-latency.XXXXXX)
pid=
stop_daemon() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
}
trap 'stop_daemon; rm -rf "$work"' EXIT

# start_daemon ARGS...: starts fitd on a free port, sets pid and url. wrk's
# thousands of requests a second from one address would be rate limited.
start_daemon() {
	rm -rf "$work/state"
	"$fitd" --listen 127.0.0.1:0 --state-dir "$work/state" --rate-limit-ip 0 "$@" \
		2>"$work/fitd.log" &
	pid=$!
	for _ in $(seq 100); do
		grep -q 'event=ready' "$work/fitd.log" 2>/dev/null && break
		sleep 0.1
	done
	url=http://$(grep -o 'event=listening addr=[^ ]*' "$work/fitd.log" | cut -d= -f3)
}

field() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }

# A search that keeps every trial thread busy: wide networks on digits,
# trained for far more epochs than the measurement lasts.
submit_load() {
	local ds
	ds=$(curl -sf --data-binary @"$root/tests/data/digits.csv" -H 'Content-Type: text/csv' \
		"$url/v1/datasets?name=digits" | field id)
	curl -sf -X POST "$url/v1/jobs" -d '{"dataset":"'"$ds"'","target":"digit",
		"early_stopping":false,
		"space":{"models":["mlp"],"optimizer":["sgd"],"learning_rate":[0.001,0.002],
			 "batch_size":[16,32],"epochs":100000,
			 "mlp":{"hidden_layers":[2],"units":[256]}},
		"search":{"max_seconds":'$((duration + 60))',"parallel_trials":"auto"}}' | field id
}

# cpu_seconds: user + system CPU time the daemon used so far.
cpu_seconds() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat"
}

# measure NAME JOB: runs wrk against the job and prints one table row.
measure() {
	local name=$1 job=$2 cpu0 cpu1 out
	cpu0=$(cpu_seconds)
	out=$(wrk -t1 -c4 -d"${duration}s" --latency "$url/v1/jobs/$job")
	cpu1=$(cpu_seconds)
	echo "$out" | awk -v name="$name" -v busy="$(echo "$cpu0 $cpu1 $duration" |
		awk '{ printf "%.2f", ($2 - $1) / $3 }')" '
		function ms(v) {
			if (v ~ /us$/) return v / 1000
			if (v ~ /ms$/) return v + 0
			if (v ~ /s$/) return v * 1000
			return v
		}
		$1 == "50%" { p50 = ms($2) }
		$1 == "99%" { p99 = ms($2) }
		$1 == "Requests/sec:" { rps = $2 }
		/Non-2xx/ { bad = $NF }
		END {
			printf "%-16s %9.2f %9.2f %10.0f %10s %8s\n", name, p50, p99, rps, busy,
			       bad == "" ? 0 : bad
		}'
}

# paced NAME JOB: 200 requests per second for DURATION seconds, one table row.
paced() {
	local cpu0 cpu1 busy
	cpu0=$(cpu_seconds)
	busy=$(/usr/bin/python3 - "$url" "/v1/jobs/$2" "$duration" <<'PY'
import http.client, sys, time
host = sys.argv[1].split("//")[1]
conn = http.client.HTTPConnection(host)
lat, bad, t0 = [], 0, time.perf_counter()
next_at = t0
while time.perf_counter() - t0 < float(sys.argv[3]):
    now = time.perf_counter()
    if now < next_at:
        time.sleep(next_at - now)
    next_at += 1 / 200
    s = time.perf_counter()
    conn.request("GET", sys.argv[2])
    r = conn.getresponse()
    r.read()
    lat.append((time.perf_counter() - s) * 1000)
    bad += r.status != 200
lat.sort()
print("%.2f %.2f %.0f %d" % (lat[len(lat) // 2], lat[int(len(lat) * 0.99)],
                             len(lat) / (time.perf_counter() - t0), bad))
PY
)
	cpu1=$(cpu_seconds)
	echo "$busy" | awk -v name="$1" -v cores="$(echo "$cpu0 $cpu1 $duration" |
		awk '{ printf "%.2f", ($2 - $1) / $3 }')" '
		{ printf "%-16s %9.2f %9.2f %10.0f %10s %8s\n", name, $1, $2, $3, cores, $4 }'
}

# big_table: the generated 200,000 x 100 table's path, made once.
big_table() {
	local dir=${FITD_BENCH_DIR:-$here/out} csv
	csv=$dir/ingest-200000x100.csv
	mkdir -p "$dir"
	if [ ! -s "$csv" ]; then
		"$gentable" --rows 200000 --cols 100 --task classification --seed 1 --out "$csv.tmp"
		mv "$csv.tmp" "$csv"
	fi
	echo "$csv"
}

# submits NAME DATASET: POST /v1/jobs on DATASET at 10 a second for DURATION
# seconds on one keep-alive connection, one table row.
submits() {
	local cpu0 cpu1 out
	cpu0=$(cpu_seconds)
	out=$(/usr/bin/python3 - "$url" "$2" "$duration" <<'PY'
import http.client, json, sys, time
host, ds, seconds = sys.argv[1].split("//")[1], sys.argv[2], float(sys.argv[3])
body = json.dumps({"dataset": ds, "target": "target", "search": {"max_trials": 1}})
conn = http.client.HTTPConnection(host)
lat, bad, t0 = [], 0, time.perf_counter()
next_at = t0
while time.perf_counter() - t0 < seconds:
    now = time.perf_counter()
    if now < next_at:
        time.sleep(next_at - now)
    next_at += 1 / 10
    s = time.perf_counter()
    conn.request("POST", "/v1/jobs", body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    lat.append((time.perf_counter() - s) * 1000)
    bad += r.status != 201
lat.sort()
print("%.2f %.2f %.1f %d" % (lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))],
                             len(lat) / (time.perf_counter() - t0), bad))
PY
)
	cpu1=$(cpu_seconds)
	echo "$out" | awk -v name="$1" -v cores="$(echo "$cpu0 $cpu1 $duration" |
		awk '{ printf "%.2f", ($2 - $1) / $3 }')" '
		{ printf "%-16s %9s %9s %10s %10s %8s\n", name, $1, $2, $3, cores, $4 }'
}

want() { case " $runs " in *" $1 "*) return 0 ;; esac; return 1; }

ncores=$(nproc)
echo "fitd: $fitd; $ncores cores; wrk -t1 -c4 -d${duration}s GET /v1/jobs/{id}"
printf '%-16s %9s %9s %10s %10s %8s\n' run "p50 ms" "p99 ms" "req/s" "fitd cores" non-2xx

if want idle; then
	start_daemon
	job=$(submit_load)
	curl -sf -X POST "$url/v1/jobs/$job/cancel" >/dev/null
	sleep 1
	measure idle "$job"
	paced idle-200/s "$job"
	stop_daemon
fi

for run in default all-cores; do
	want "$run" || continue
	if [ "$run" = default ]; then start_daemon; else start_daemon --reserved-cores 0; fi
	job=$(submit_load)
	sleep 3 # the trials start
	measure "$run" "$job"
	paced "$run-200/s" "$job"
	curl -s "$url/v1/jobs/$job" | grep -o '"runtime":{[^}]*}' | sed "s/^/                 $run: /"
	stop_daemon
done

if want submit; then
	table=$(big_table)
	start_daemon --max-running-jobs 1
	job=$(submit_load)
	big=$(curl -sf --data-binary @"$table" -H 'Content-Type: text/csv' \
		"$url/v1/datasets?name=big" | field id)
	sleep 3 # the trials start
	submits "submit-10/s" "$big"
	echo "                 submit: POST /v1/jobs on a $(wc -c <"$table")-byte, 200,000 x 100 table"
	stop_daemon
fi
