#!/usr/bin/env bash
# Runs the suites of a build (default build-posix/, configured with -Dplatform=posix) under
# `strace -f`, and counts the Linux-only calls the posix backend must never make: pidfd_open,
# pidfd_send_signal, memfd_create, close_range. Prints how many processes ran and each such call
# with the program that made it; fails if a program of the build (a suite, a helper,
# forkipc-exec, an example) made one. Calls by other programs (node, in the suites that drive a
# real one; /bin/sh) are listed, not counted against forkipc.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-posix}
command -v strace >/dev/null || { echo "linux-calls: needs strace (apt-get install strace)" >&2; exit 1; }
traces=$(mktemp -d)
trap 'rm -rf "$traces"' EXIT
mapfile -t suites < <(meson test -C "$dir" --no-rebuild --list 2>/dev/null | grep -E "${FORKIPC_SUITES:-.}" |
  grep -Ev '^(docs_programs|consumer_|layers|example_|shared_counter)')
# --no-breaks: doctest raises SIGTRAP on a failed check when it sees a tracer. Two stress cases
# are left out: under ptrace each signal and each fork stops for strace, so that a stream of
# signals starves the receive they interrupt and 10,000 forks outlast the suite's timeout.
meson test -C "$dir" --no-rebuild --num-processes 2 \
  --test-args="--no-breaks --test-case-exclude=*fork/exit*,*signals?arriving*" \
  --wrapper "strace -f -ff -qq -e trace=execve,clone,clone3,fork,vfork,pidfd_open,pidfd_send_signal,memfd_create,close_range -o $traces/t" \
  "${suites[@]}" >/dev/null || { echo "linux-calls: a suite failed under strace" >&2; exit 1; }
python3 - "$traces" "$(cd "$dir" && pwd)" "${#suites[@]}" <<'PY'
import os, re, sys
traces, build, suites = sys.argv[1], sys.argv[2], int(sys.argv[3])
forbidden = ("pidfd_open", "pidfd_send_signal", "memfd_create", "close_range")
# Who made a call: the program the process had exec'd by then, else (a fork before its exec,
# such as the child half of a posix_spawn) its parent's.
parent, execs, calls = {}, {}, {}
for name in os.listdir(traces):
    pid = int(name.split(".")[-1])
    with open(os.path.join(traces, name), errors="replace") as f:
        for line in f:
            m = re.match(r'execve\("([^"]*)"', line)
            if m and line.rstrip().endswith("= 0"):
                execs[pid] = m.group(1)
            m = re.match(r'(clone3?|v?fork)\(.*= (\d+)$', line.rstrip())
            if m:
                parent[int(m.group(2))] = pid
            if line.startswith(forbidden):
                calls.setdefault(pid, []).append((execs.get(pid), line.strip()))
def program(pid):
    seen = set()
    while pid not in execs and pid in parent and pid not in seen:
        seen.add(pid)
        pid = parent[pid]
    return execs.get(pid, "?")
processes = len(os.listdir(traces))
ours, others = [], []
for pid, lines in calls.items():
    for exec_then, line in lines:
        who = exec_then if exec_then else program(parent.get(pid, -1))
        where = "" if exec_then else ", a fork of it before its exec"
        (ours if who.startswith(build) else others).append(f"{who} (pid {pid}{where}): {line}")
print(f"linux-calls: {suites} suites, {processes} processes under strace")
for line in others:
    print("  not forkipc's:", line)
for line in ours:
    print("  FORKIPC'S:", line)
print(f"linux-calls: {len(ours)} calls of pidfd_open, pidfd_send_signal, memfd_create or close_range by "
      f"this build's programs, {len(others)} by others")
sys.exit(1 if ours else 0)
PY
