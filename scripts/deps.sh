#!/usr/bin/env bash
# Installs, with apt-get, whatever forkipc's build and tests need that this Debian machine lacks.
# Run by the other scripts; safe to run again (it installs nothing when nothing is missing).
# Each argument adds a group: "fuzz", clang and its libFuzzer runtime, for scripts/fuzz.sh;
# "docs", Doxygen, for the API reference (ninja -C build docs); "load", stress-ng, for
# scripts/under-load.sh; "libcxx", clang and libc++ (the toolchain of macOS), for a build with
# CXX=clang++ and -stdlib=libc++; "sanitizers", that and clang's sanitizer runtimes, for the
# sanitized builds of scripts/ci-builds.sh.
set -euo pipefail

packages=(g++ meson ninja-build pkg-config cmake libboost-dev nlohmann-json3-dev doctest-dev)
for group in "$@"; do
  case $group in
    fuzz) packages+=(clang libclang-rt-14-dev) ;;
    docs) packages+=(doxygen) ;;
    load) packages+=(stress-ng) ;;
    libcxx) packages+=(clang libc++-dev libc++abi-dev) ;;
    sanitizers) packages+=(clang libc++-dev libc++abi-dev libclang-rt-14-dev) ;;
    *) echo "forkipc: scripts/deps.sh: unknown group \"$group\"" >&2; exit 2 ;;
  esac
done
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
