#!/usr/bin/env bash
# Installs, with apt-get, whatever forkipc's build and tests need that this Debian machine lacks.
# Run by the other scripts; safe to run again (it installs nothing when nothing is missing).
# With the argument "fuzz", also clang and its libFuzzer runtime, for scripts/fuzz.sh; with
# "docs", also Doxygen, for the API reference (ninja -C build docs); with "load", also stress-ng,
# for scripts/under-load.sh; with "libcxx", also clang and libc++ (the toolchain of macOS), for a
# build with CXX=clang++ and -stdlib=libc++.
set -euo pipefail

packages=(g++ meson ninja-build pkg-config cmake libboost-dev nlohmann-json3-dev doctest-dev)
if [[ ${1:-} == fuzz ]]; then packages+=(clang libclang-rt-14-dev); fi
if [[ ${1:-} == docs ]]; then packages+=(doxygen); fi
if [[ ${1:-} == load ]]; then packages+=(stress-ng); fi
if [[ ${1:-} == libcxx ]]; then packages+=(clang libc++-dev libc++abi-dev); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The tests drive real Node.js children: any node on PATH will do, else Debian's.
command -v node >/dev/null 2>&1 || missing+=(nodejs)

if ((${#missing[@]} > 0)); then
  echo "forkipc: installing ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "forkipc: run as root, or install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
