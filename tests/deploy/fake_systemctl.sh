#!/bin/bash
# A stand-in for systemctl over an install root ($FAKE_ROOT), for testing
# deploy/install.sh where systemd is not PID 1. Every call is appended to
# $FAKE_ROOT/systemctl.log. start, restart and enable --now run the unit's
# ExecStart (its paths taken under $FAKE_ROOT) in the background with the
# unit's state directory, as systemd would; stop and disable --now stop it.
set -eu
root=$FAKE_ROOT
run=$root/run/fake-systemctl
mkdir -p "$run"
echo "$*" >>"$root/systemctl.log"

running() { [ -f "$run/pid" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null; }

# The unit file, in systemd's search order; fails when there is none.
unit_path() {
	local dir
	for dir in /etc /usr/local/lib /usr/lib /lib; do
		[ -f "$root$dir/systemd/system/fitd.service" ] || continue
		echo "$dir/systemd/system/fitd.service"
		return 0
	done
	echo "Unit fitd.service not found." >&2
	return 5
}

start() {
	local unit words=() w
	running && return 0
	unit=$(unit_path)
	read -ra exec_start < <(sed -n 's/^ExecStart=//p' "$root$unit")
	for w in "${exec_start[@]}"; do
		case $w in /*) w=$root$w ;; esac
		words+=("$w")
	done
	mkdir -p "$root/var/lib/private/fitd"
	ln -sfn private/fitd "$root/var/lib/fitd"
	STATE_DIRECTORY=$root/var/lib/private/fitd setsid "${words[@]}" </dev/null >>"$root/fitd.log" 2>&1 &
	echo $! >"$run/pid"
}

stop() {
	local pid
	running || return 0
	pid=$(cat "$run/pid")
	kill -TERM "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	rm -f "$run/pid"
}

wants=$root/etc/systemd/system/multi-user.target.wants/fitd.service
now=0
args=()
for a in "$@"; do
	case $a in --now) now=1 ;; --quiet) ;; *) args+=("$a") ;; esac
done
case ${args[0]} in
daemon-reload) ;;
is-active) running ;;
is-enabled) [ -L "$wants" ] ;;
start) start ;;
stop) stop ;;
restart) stop; start ;;
enable)
	mkdir -p "$(dirname "$wants")"
	ln -sfn "$(unit_path)" "$wants"
	[ $now = 0 ] || start ;;
disable)
	rm -f "$wants"
	[ $now = 0 ] || stop ;;
*) echo "fake systemctl: unsupported: $*" >&2; exit 1 ;;
esac
