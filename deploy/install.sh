#!/bin/bash
# Installs fitd as a systemd service on a Debian host, or removes it.
#
#   deploy/install.sh               install what is missing, build build-release/
#                                   (prefix /usr/local, config in /etc/fitd), meson
#                                   install, then enable and start fitd.service
#   deploy/install.sh --uninstall   stop, disable and remove what was installed;
#                                   the state directory and a changed config stay
#   deploy/install.sh --uninstall --purge   remove those too
#
# Running it again upgrades in place and restarts fitd; an existing config
# file is kept. What was installed is listed in
# /usr/local/share/fitd/installed-files (a sha256sum manifest).
#
# For tests: --builddir DIR uses that build directory as configured,
# --no-build skips the packages and the build (meson install --no-rebuild),
# --root DIR installs under DIR instead of /, SYSTEMCTL names the systemctl
# to run, FITD_READY_TIMEOUT is how long to wait for GET /readyz (60 s).
set -euo pipefail

cd "$(dirname "$0")/.."
builddir="build-release"
build=1
root=
uninstall=0
purge=0
while [ $# -gt 0 ]; do
	case $1 in
	--builddir) builddir=$2; shift ;;
	--no-build) build=0 ;;
	--root) root=${2%/}; shift ;;
	--uninstall) uninstall=1 ;;
	--purge) purge=1 ;;
	*) echo "usage: $0 [--uninstall [--purge]] [--builddir DIR] [--no-build] [--root DIR]" >&2
	   exit 2 ;;
	esac
	shift
done
systemctl=${SYSTEMCTL:-systemctl}
manifest=usr/local/share/fitd/installed-files # relative to the root
state_dirs="var/lib/fitd var/lib/private/fitd"

die() {
	echo "install.sh: $*" >&2
	exit 1
}

# Prints the status code of GET http://HOST:PORT/PATH, or nothing.
http_status() {
	(
		exec 3<>"/dev/tcp/$1/$2" || exit 0
		printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$3" "$1" >&3
		read -r -t 5 _ status _ <&3 && echo "$status"
	) 2>/dev/null || true
}

do_uninstall() {
	local entries kept entry sum path dir
	if [ ! -f "$root/$manifest" ]; then
		echo "fitd is not installed (no $root/$manifest)"
	else
		$systemctl disable --now fitd.service || true
		mapfile -t entries <"$root/$manifest"
		kept=()
		# A file changed since the install (an edited config) stays, and
		# stays listed, unless --purge.
		for entry in "${entries[@]}"; do
			sum=${entry%% *}
			path=$root/${entry#*  }
			if [ $purge = 1 ] || [ ! -e "$path" ] || [ "$(sha256sum <"$path" | cut -d' ' -f1)" = "$sum" ]; then
				rm -f "$path"
			else
				echo "kept $path: it was changed since the install (--purge removes it)"
				kept+=("$entry")
			fi
		done
		if [ ${#kept[@]} -gt 0 ]; then
			printf '%s\n' "${kept[@]}" >"$root/$manifest"
		else
			rm -f "$root/$manifest"
		fi
		# Our own directories (/etc/fitd, share/fitd) go once empty.
		for entry in "${entries[@]}" "-  $manifest"; do
			dir=$(dirname "$root/${entry#*  }")
			[ "${dir##*/}" != fitd ] || rmdir "$dir" 2>/dev/null || true
		done
		$systemctl daemon-reload
		echo "fitd removed"
	fi
	if [ $purge = 1 ]; then
		for d in $state_dirs; do rm -rf "$root/${d:?}"; done
		echo "state removed"
	else
		for d in $state_dirs; do
			[ -e "$root/$d" ] && [ ! -L "$root/$d" ] && echo "state kept in $root/$d (--purge removes it)"
		done
	fi
	exit 0
}

[ $uninstall = 1 ] && do_uninstall
[ -n "$root" ] || [ "$(id -u)" -eq 0 ] || die "run as root (or with sudo)"

if [ $build = 1 ]; then
	deploy/deps.sh build
	[ -d "$builddir" ] ||
		meson setup "$builddir" --buildtype=release --prefix=/usr/local --sysconfdir=/etc -Dtests=disabled
	meson compile -C "$builddir"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
no_rebuild=
[ $build = 1 ] || no_rebuild=--no-rebuild
meson install -C "$builddir" --destdir "$stage" --quiet $no_rebuild

# The unit says which binary and which config file the service uses.
unit=$(cd "$stage" && find . -name fitd.service -printf '/%P\n')
[ -n "$unit" ] || die "meson install put no fitd.service in $stage"
case $(dirname "$unit") in
/etc/systemd/system | /usr/local/lib/systemd/system | /usr/lib/systemd/system | /lib/systemd/system) ;;
*) die "$builddir installs the unit in $(dirname "$unit"), where systemd does not look" ;;
esac
read -r bin _ conf < <(sed -n 's/^ExecStart=//p' "$stage$unit")

was_active=0
$systemctl is-active --quiet fitd.service && was_active=1

installed=()
while read -r path; do
	if [ "$path" = "$conf" ] && [ -e "$root$conf" ]; then
		cmp -s "$stage$conf" "$root$conf" || echo "kept $root$conf as it is (the example is deploy/fitd.conf)"
	else
		install -D -m "$(stat -c %a "$stage$path")" "$stage$path" "$root$path"
	fi
	installed+=("${path#/}")
done < <(cd "$stage" && find . -type f -printf '/%P\n' | sort)
mkdir -p "$root/$(dirname "$manifest")"
# The sums are of the files as shipped, so that an edited config is told apart.
(cd "$stage" && sha256sum "${installed[@]}") >"$root/$manifest"

$systemctl daemon-reload
$systemctl enable --now fitd.service ||
	die "fitd.service did not start; see: systemctl status fitd; journalctl -u fitd -e"
[ $was_active = 0 ] || $systemctl restart fitd.service

# Wait for GET /readyz on the address the config file listens on.
listen=$("$root$bin" --config "$root$conf" --print-config | sed -n 's/^listen = //p')
host=${listen%:*}
port=${listen##*:}
host=${host#[}
host=${host%]}
case $host in 0.0.0.0) host=127.0.0.1 ;; ::) host=::1 ;; esac
deadline=$((SECONDS + ${FITD_READY_TIMEOUT:-60}))
until [ "$(http_status "$host" "$port" /readyz)" = 200 ]; do
	[ $SECONDS -lt $deadline ] ||
		die "fitd did not answer GET http://$listen/readyz with 200 within ${FITD_READY_TIMEOUT:-60} s; see: journalctl -u fitd -e"
	sleep 1
done

cat <<EOF
fitd is running and ready on http://$listen
  binary   $bin
  unit     $unit (systemctl status fitd, journalctl -u fitd)
  config   $conf (systemctl reload fitd after editing; man 8 fitd)
  state    /var/lib/fitd (systemd's StateDirectory; with DynamicUser=yes it is /var/lib/private/fitd)
Remove with: $0 --uninstall (keeps the state; --purge removes it too)
EOF
