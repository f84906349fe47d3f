#!/usr/bin/env bash
# Installs what is missing, builds, and starts the sum server on port 3000 (arguments go to
# sum_server: --mode per-request, --workers N, --threads N, --port P, --timeout MS,
# --idle-timeout MS). Try:
#   curl localhost:3000/sum      ->  sumRes is 4999950000
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
# Uninstalled, the library finds its spawn helper in the build (the posix backend needs it).
FORKIPC_LIBEXECDIR=$PWD/build/lib exec build/examples/sum_server/sum_server "$@"
