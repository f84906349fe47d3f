#!/usr/bin/env bash
# Installs what is missing (wrk and nginx too), builds, and runs the benchmarks: the channel
# shapes against the raw socketpair, Node and Python, then the sum server against Node's under
# wrk. Arguments go to bench/run.py (--quick, --markdown FILE). Takes about four minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
if ((${#missing[@]} > 0)); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python3 bench/run.py "$@"
echo
python3 bench/http/run.py
