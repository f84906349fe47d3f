#!/usr/bin/env bash
# Installs what is missing, builds, and runs the echo example: a parent that forks a child and
# trades messages with it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
exec build/examples/echo/echo_parent "$@"
