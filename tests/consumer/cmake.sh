#!/usr/bin/env bash
# Installs the built library into a staging folder, as `meson install` does, then builds and runs
# the CMake project of cmake/ against it (find_package(forkipc 0.1 CONFIG REQUIRED), the target
# forkipc::forkipc), pointing CMAKE_PREFIX_PATH at the staged prefix as a user would at theirs.
# Also checks that the version file refuses another minor version (0.x: SameMinorVersion).
# Arguments: the build folder, the folder of this script.
set -euo pipefail
build=$1
here=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

meson install -C "$build" --no-rebuild --quiet --destdir "$work/stage" >/dev/null
prefix=$(meson introspect "$build" --buildoptions |
  python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
installed=$work/stage$prefix
echo "installed: $(cd "$installed" && find . -name 'forkipcConfig*.cmake' | sort | tr '\n' ' ')"

cmake -S "$here/cmake" -B "$work/build" -DCMAKE_PREFIX_PATH="$installed" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
# CMake gives the program a RUNPATH to the imported library: run it on that alone. The library
# finds its spawn helper where it was installed, here staged.
FORKIPC_LIBEXECDIR=$(dirname "$(find "$work/stage" -name forkipc-exec | head -n 1)") \
  env -u LD_LIBRARY_PATH "$work/build/consumer"

# A request for a version this package is not compatible with must fail.
mkdir "$work/wrong"
cat >"$work/wrong/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(wrong_version LANGUAGES CXX)
find_package(forkipc 0.99 CONFIG REQUIRED)
CMAKE
if cmake -S "$work/wrong" -B "$work/wrong/build" -DCMAKE_PREFIX_PATH="$installed" >"$work/wrong.log" 2>&1; then
  echo "find_package(forkipc 0.99) succeeded: the version file accepts an incompatible version" >&2
  exit 1
fi
grep -q "compatible with requested version" "$work/wrong.log" || { cat "$work/wrong.log" >&2; exit 1; }
echo "find_package(forkipc 0.99) is refused, as it should be"
