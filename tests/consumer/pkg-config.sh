#!/usr/bin/env bash
# Installs the built library into a staging folder, as `meson install` does, then builds and runs
# consumer.cpp against it with nothing but `pkg-config --cflags --libs forkipc`.
# Arguments: the build folder, the folder of consumer.cpp.
set -euo pipefail
build=$1
here=$2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

meson install -C "$build" --no-rebuild --quiet --destdir "$stage" >/dev/null
pc_dir=$(dirname "$(find "$stage" -name forkipc.pc | head -n 1)")
# PKG_CONFIG_SYSROOT_DIR: pkg-config's own way to point an installed .pc file at a staging copy.
export PKG_CONFIG_PATH=$pc_dir PKG_CONFIG_SYSROOT_DIR=$stage
flags=$(pkg-config --cflags --libs forkipc)
echo "pkg-config --cflags --libs forkipc: $flags"
c++ -std=c++20 -Wall -Wextra -Werror -o "$stage/consumer" "$here/consumer.cpp" $flags
# The library finds its spawn helper where it was installed, here staged.
LD_LIBRARY_PATH=$(dirname "$(find "$stage" -name 'libforkipc.so' | head -n 1)") \
  FORKIPC_LIBEXECDIR=$(dirname "$(find "$stage" -name forkipc-exec | head -n 1)") "$stage/consumer"
