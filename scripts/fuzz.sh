#!/usr/bin/env bash
# Installs what is missing (clang and its libFuzzer too), builds the fuzz targets of tests/fuzz/
# with clang under ASan and UBSan in build-fuzz/ (or in $1), and runs each: its kept findings,
# then FORKIPC_FUZZ_SECONDS (60) of fuzzing. Fails on any crash, leak or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh fuzz
dir=${1:-build-fuzz}
if [[ ! -f $dir/build.ninja ]]; then
  # Only the fuzzers are built here (ninja's "fuzzers" target), not the library or the suites.
  # meson's output is shown only when it fails.
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  CXX=clang++ meson setup "$dir" --wrap-mode=nodownload -Dfuzzers=true -Dtests=false \
    -Dexamples=false -Dbenchmarks=false -Db_sanitize=address,undefined -Db_lundef=false \
    >"$log" || { cat "$log"; exit 1; }
fi
ninja -C "$dir" fuzzers
meson test -C "$dir" --no-rebuild --suite fuzz --print-errorlogs
