#!/bin/sh
# ingest.sh - times fitd's CSV parser against pandas.read_csv on the same
# generated 200,000 x 100 numeric table (about 190 MB), best of 3 each.
#
#   tests/bench/ingest.sh [GENTABLE CSVBENCH]
#
# Without arguments it builds both programs in build-bench/ (a release
# build). The table is kept in tests/bench/out/ (or $FITD_BENCH_DIR) and
# reused. ROWS and COLS override the shape; MIN_RATIO (default 3) is the
# speed-up below which the script exits 1.
bench_name=ingest
. "$(dirname "$0")/results.sh"
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rows=${ROWS:-200000}
cols=${COLS:-100}
min_ratio=${MIN_RATIO:-3}
python=/usr/bin/python3

if [ $# -ge 2 ]; then
    gentable=$1
    csvbench=$2
else
    build=${FITD_BENCH_BUILD:-$root/build-bench}
    [ -d "$build" ] || meson setup "$build" "$root" --buildtype=release >/dev/null
    meson compile -C "$build" tests/bench/gentable tests/bench/csvbench >/dev/null
    gentable=$build/tests/bench/gentable
    csvbench=$build/tests/bench/csvbench
fi

out=${FITD_BENCH_DIR:-$here/out}
mkdir -p "$out"
csv=$out/ingest-${rows}x${cols}.csv
if [ ! -s "$csv" ]; then
    "$gentable" --rows "$rows" --cols "$cols" --task classification --seed 1 --out "$csv.tmp"
    mv "$csv.tmp" "$csv"
fi
echo "table: $csv ($(wc -c <"$csv") bytes, $rows rows x $cols features + target)"

fitd=$("$csvbench" "$csv" 2 3)
echo "$fitd (2 threads, best of 3)"
fitd_s=$(echo "$fitd" | awk '{ print $2 }')

pandas_s=$("$python" - "$csv" <<'PY'
import sys, time
import pandas as pd

best = float("inf")
for _ in range(3):
    t0 = time.perf_counter()
    frame = pd.read_csv(sys.argv[1])
    best = min(best, time.perf_counter() - t0)
    del frame
print(f"{best:.4f}")
PY
)
echo "pandas $pandas_s (pandas $("$python" -c 'import pandas; print(pandas.__version__)'), read_csv, best of 3)"

"$python" - "$fitd_s" "$pandas_s" "$min_ratio" <<'PY'
import sys
fitd, pandas, want = (float(a) for a in sys.argv[1:])
ratio = pandas / fitd
print(f"ratio {ratio:.2f}x (pandas / fitd; target >= {want:g}x)")
sys.exit(0 if ratio >= want else 1)
PY
