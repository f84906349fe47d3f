#!/usr/bin/env bash
# Makes the release tarball of the current commit with `meson dist` (in build/, or in $1), then
# checks that it stands alone: unpacked into an empty folder, it serves as a Meson subproject
# without network (--wrap-mode=nodownload), builds, installs, and passes real tests.
#
# One build does both checks, to keep CI's time down: the consumer project of
# tests/consumer/subproject/ takes the unpacked tarball as its subproject forkipc
# (dependency('forkipc') through meson.override_dependency), as a user would vendor or wrap the
# sources. It builds, at -O0 (buildtype plain), only what the checks need: the library, its spawn
# helper, the consumer program (tests/consumer/consumer.cpp, which forks a child and exchanges
# messages with it), and one suite, codec_json_lines (decoding without I/O); runs the consumer and
# the suite; then installs the build into a scratch folder. That proves the tarball holds every
# source, header, template and test file a build and an install need. The main build's consumer
# tests build against the installed tree (pkg-config, CMake); the other suites run from the git
# checkout in CI's main build. meson dist's own check (a full build and every test) is skipped.
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
consumer=$work/consumer
mkdir -p "$consumer/subprojects"
tar -C "$consumer/subprojects" -xJf "$tarball"
mv "$consumer"/subprojects/forkipc-* "$consumer/subprojects/forkipc"
cp "$consumer/subprojects/forkipc/tests/consumer/subproject/meson.build" \
  "$consumer/subprojects/forkipc/tests/consumer/consumer.cpp" "$consumer/"
echo "dist-check: $(basename "$tarball") unpacked in an empty folder, as a consumer's subproject"

meson setup "$work/build" "$consumer" --wrap-mode=nodownload --buildtype=plain \
  -Dforkipc:examples=false -Dforkipc:benchmarks=false -Dforkipc:test_suites=codec_json_lines >/dev/null
ninja -C "$work/build" consumer subprojects/forkipc/lib/forkipc-exec \
  subprojects/forkipc/tests/test_codec_json_lines >/dev/null
# Not installed yet: the library finds its spawn helper in the subproject's build folder.
FORKIPC_LIBEXECDIR=$work/build/subprojects/forkipc/lib "$work/build/consumer"
meson test -C "$work/build" --no-rebuild --print-errorlogs forkipc:codec_json_lines
meson install -C "$work/build" --no-rebuild --destdir "$work/installed" >/dev/null
echo "dist-check: built as a subproject, tested and installed from the tarball alone"
