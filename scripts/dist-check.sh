#!/usr/bin/env bash
# Makes the release tarball of the current commit with `meson dist` (in build/, or in $1), then
# checks that it stands alone: unpacked into an empty folder, it configures without network
# (--wrap-mode=nodownload), builds, installs, and passes real tests.
#
# To keep CI's time down, meson dist's own check (a full build and every test) is skipped, and
# this builds only what the test below needs, at -O0 (buildtype plain): the library, its spawn
# helper, and one suite, codec_json_lines (test_codec_json_lines.cpp, decoding without I/O); then
# installs that build into a scratch folder. That proves the tarball holds every source, header,
# template and test file a build and an install need: the installed tree itself is the same as a
# git checkout's, which the main build's consumer tests (pkg-config, CMake, subproject) build
# against. The other suites run from the git checkout in CI's main build.
#
# meson dist packs the last commit: commit first (it refuses a tree with uncommitted changes).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
[[ -f $dir/build.ninja ]] || scripts/build.sh "$dir" >/dev/null

meson dist -C "$dir" --no-tests --formats xztar
tarball=$(ls -t "$dir"/meson-dist/forkipc-*.tar.xz | head -n 1)
(cd "$(dirname "$tarball")" && sha256sum --quiet -c "$(basename "$tarball").sha256sum")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xJf "$tarball"
src=$(echo "$work"/forkipc-*)
echo "dist-check: $(basename "$tarball") unpacked in an empty folder"

meson setup "$work/build" "$src" --wrap-mode=nodownload --buildtype=plain \
  -Dexamples=false -Dbenchmarks=false -Dtest_suites=codec_json_lines >/dev/null
meson compile -C "$work/build" forkipc forkipc-exec test_codec_json_lines >/dev/null
meson test -C "$work/build" --no-rebuild --print-errorlogs codec_json_lines
meson install -C "$work/build" --no-rebuild --destdir "$work/installed" >/dev/null
echo "dist-check: built, tested and installed from the tarball alone"
