#!/usr/bin/env bash
# Runs one libFuzzer target: first over the findings kept in its regressions folder (each must
# pass), then for FORKIPC_FUZZ_SECONDS (60 by default), starting from its seed corpus. Any
# crash, leak, sanitizer report, time-out (10 s an input) or excess memory fails the run, and
# the input that did it is left in <work>/artifacts/.
# Arguments: the fuzzer, its seed corpus, its regressions folder, a work folder.
set -euo pipefail
fuzzer=$1 seeds=$2 regressions=$3 work=$4
mkdir -p "$work/corpus" "$work/artifacts"
# -error_exitcode: libFuzzer's default, 77, is what Meson reads as "skipped".
options=(-error_exitcode=1 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -artifact_prefix="$work/artifacts/")
if compgen -G "$regressions/*" >/dev/null; then
  "$fuzzer" "${options[@]}" "$regressions"/*
fi
exec "$fuzzer" "${options[@]}" -max_total_time="${FORKIPC_FUZZ_SECONDS:-60}" -print_final_stats=1 \
  "$work/corpus" "$seeds"
