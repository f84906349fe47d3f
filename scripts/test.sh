#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (in build/, or in $1, with any further
# arguments passed to meson setup).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
scripts/build.sh "$@"
meson test -C "$dir" --print-errorlogs
