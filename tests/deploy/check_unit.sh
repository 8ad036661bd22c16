#!/bin/sh
# Verifies the generated unit with systemd-analyze and requires an exposure
# score of at most 2.0 from its offline security review.
# Usage: check_unit.sh UNIT FITD_BINARY
set -eu
unit=$1
bin=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Point ExecStart at the built binary so verify can check it exists.
sed "s#^ExecStart=[^ ]*#ExecStart=$bin#" "$unit" > "$dir/fitd.service"
grep -q '^Type=notify$' "$dir/fitd.service"
grep -q '^DynamicUser=yes$' "$dir/fitd.service"
grep -q '^StateDirectory=fitd$' "$dir/fitd.service"
systemd-analyze verify --man=no "$dir/fitd.service"
score=$(systemd-analyze security --offline=yes "$dir/fitd.service" 2>/dev/null |
	sed -n 's/.*Overall exposure level for fitd.service: \([0-9.]*\).*/\1/p')
echo "exposure score: $score"
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
