#!/usr/bin/env bash
# Builds consumer.cpp in a Meson project of its own that takes forkipc as a subproject
# (dependency('forkipc') through meson.override_dependency), and runs it.
# Arguments: forkipc's source folder, the folder of this script, the platform backend to build.
set -euo pipefail
source_root=$1
here=$2
platform=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp "$here/subproject/meson.build" "$here/consumer.cpp" "$work/"
mkdir "$work/subprojects"
# A copy of the sources, without build folders, as a user would vendor or wrap them.
tar -C "$source_root" --exclude='./build*' --exclude=./.git -cf - . | (mkdir "$work/subprojects/forkipc" && tar -C "$work/subprojects/forkipc" -xf -)
# buildtype plain (no optimization, no debug info): what is tested is the build's wiring, and
# forkipc's sources compile about twice as fast so.
meson setup "$work/build" "$work" --wrap-mode=nodownload --buildtype=plain -Dforkipc:tests=false \
  -Dforkipc:examples=false -Dforkipc:benchmarks=false -Dforkipc:platform="$platform" >/dev/null
ninja -C "$work/build" >/dev/null
# Not installed: the library finds its spawn helper in the subproject's build folder.
FORKIPC_LIBEXECDIR=$work/build/subprojects/forkipc/lib "$work/build/consumer"
