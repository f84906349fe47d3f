#!/usr/bin/env bash
# Makes the release tarball of the current commit with `meson dist` (in build/, or in $1), then
# checks that it stands alone: unpacked into an empty folder, it configures without network
# (--wrap-mode=nodownload), builds, installs, and passes real tests.
#
# To keep CI's time down, meson dist's own check (a full build and every test) is skipped, and
# this builds only what the tests below need, at -O0 (buildtype plain): the library, its
# kill_on_parent_exit helper, and one suite. The tests:
# - codec_json_lines: the json-lines codec suite (test_codec_json_lines.cpp), decoding without I/O;
# - consumer_pkg_config: the library installed from the tarball's build, a doctest program
#   built against it with pkg-config, which forks children and exchanges messages (event order,
#   bad input, 100 children without leaks, the blocking API);
# - consumer_cmake: the same installed tree through find_package(forkipc) and forkipc::forkipc,
#   a program that forks itself and gets its message echoed.
# Together they prove the tarball holds every source, header, template and test file a build
# needs. The other suites run from the git checkout in CI's main build.
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
meson compile -C "$work/build" forkipc forkipc-spawn test_codec_json_lines >/dev/null
meson test -C "$work/build" --no-rebuild --print-errorlogs codec_json_lines consumer_pkg_config consumer_cmake
