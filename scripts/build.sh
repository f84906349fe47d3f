#!/usr/bin/env bash
# Installs what is missing, then configures (once) and builds forkipc in build/ (or in $1, with
# any further arguments passed to meson setup).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
dir=${1:-build}
shift || true
[[ -f $dir/build.ninja ]] || meson setup "$dir" --wrap-mode=nodownload "$@" >/dev/null
ninja -C "$dir"
