#!/bin/sh
# Installs what is missing, builds fitd and runs it in the foreground on
# 127.0.0.1:8080 with its state (SQLite database and datasets) in
# ./fitd-state. Extra arguments go to fitd, e.g. --listen 127.0.0.1:9000.
set -eu
cd "$(dirname "$0")/.."
deploy/deps.sh build
[ -d build ] || meson setup build --buildtype=release
meson compile -C build
exec build/daemon/fitd "$@"
