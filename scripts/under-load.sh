#!/usr/bin/env bash
# Runs the test suites on a busy machine, to find the tests that pass only on an idle one (CI runs
# on a developer's machine, which may be compiling something else at the time). Every CPU is kept
# busy by another process (stress-ng, installed with apt-get if missing) while the suites run
# RUNS times in a row (3 by default) in each build folder, made as .ci/run makes them:
#   plain  build/       scripts/test.sh build
#   asan   build-asan/  scripts/test.sh build-asan, configured by scripts/ci-builds.sh
# (a folder already configured is used as it is). The folders are built before the load starts.
# The load stops when the script ends, however it ends: on its own, on a signal, or, should the
# script be SIGKILLed, within a second, by a watcher that sees it gone.
#
# Each failed test is printed with its output, as meson logged it; each run's whole log is kept
# in <folder>/meson-logs/under-load-<build>-<run>.{txt,json} (until the next use of the script). The last line counts the tests run
# (meson's tests, each suite once per run): "under-load: N passed, M failed". Exits 1 on any failure.
#
# usage: scripts/under-load.sh [--runs N] [--builds plain,asan] [--load K] [-- TESTNAME...]
#   --runs N     runs of each build's suites (3)
#   --builds     which build folders, in order (plain,asan)
#   --load K     busy processes (one per CPU: nproc)
#   TESTNAME...  only these meson tests (e.g. sum_server pool fork_shm); all by default
set -uo pipefail
cd "$(dirname "$0")/.."

runs=3
builds=plain,asan
load=$(nproc)
tests=()
while (($# > 0)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --builds) builds=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    --) shift; tests=("$@"); break ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "under-load: unknown argument \"$1\" (see --help)" >&2; exit 2 ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "under-load: --runs takes a whole number of 1 or more, not \"$runs\"" >&2; exit 2; }
[[ $load =~ ^[1-9][0-9]*$ ]] || { echo "under-load: --load takes a whole number of 1 or more, not \"$load\"" >&2; exit 2; }

# A sanitizer's report fails the test that provoked it, as in .ci/run.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

folder_of() {
  case $1 in
    plain) echo build ;;
    asan) echo build-asan ;;
    *) echo "under-load: unknown build \"$1\" (plain or asan)" >&2; return 2 ;;
  esac
}

IFS=, read -r -a build_list <<<"$builds"
for b in "${build_list[@]}"; do
  folder_of "$b" >/dev/null || exit 2
done

# Built first, on a machine only as busy as it is.
scripts/deps.sh load sanitizers || exit 1
for b in "${build_list[@]}"; do
  case $b in
    plain) scripts/build.sh build >/dev/null || exit 1 ;;
    asan) (source scripts/ci-builds.sh && CXX=$sanitized_cxx scripts/build.sh build-asan "${asan_setup[@]}") >/dev/null || exit 1 ;;
  esac
done

# The load, in a session of its own so that one signal to its process group ends all of it.
# Its watcher ends it too once this script is gone, trap or no trap.
load_group=
stop_load() {
  if [[ -n $load_group ]]; then
    kill -TERM -- "-$load_group" 2>/dev/null
    wait "$load_group" 2>/dev/null
    load_group=
  fi
}
trap stop_load EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
setsid bash -c 'stress-ng --cpu "$1" --quiet >/dev/null 2>&1 & while kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -TERM -- "-$$"' \
  under-load-busy "$load" "$$" &
load_group=$!
echo "under-load: $load busy processes (stress-ng --cpu $load, process group $load_group); $runs run(s) of ${build_list[*]}"

passed=0
failed=0
failures=()
for ((run = 1; run <= runs; ++run)); do
  for b in "${build_list[@]}"; do
    dir=$(folder_of "$b")
    started=$SECONDS
    meson test -C "$dir" --no-rebuild "${tests[@]}" >/dev/null 2>&1
    kept=$dir/meson-logs/under-load-$b-$run
    cp "$dir/meson-logs/testlog.txt" "$kept.txt"
    cp "$dir/meson-logs/testlog.json" "$kept.json"
    # Each failure's output goes to stderr; the one line on stdout is "<passed> <failed> <names>".
    counts=$(python3 - "$kept.json" "$b" "$run" <<'PY'
import json, sys
path, build, run = sys.argv[1:]
passed, failed = 0, []
with open(path, encoding="utf-8", errors="replace") as log:
    for line in log:
        if not line.strip():
            continue
        test = json.loads(line)
        if test.get("result") in ("OK", "EXPECTEDFAIL", "SKIP"):
            passed += 1
            continue
        failed.append(test["name"])
        out = (test.get("stdout") or "") + (test.get("stderr") or "")
        lines = out.splitlines()
        shown = lines[-400:]
        print(f"----- FAILED under load: {test['name']} ({build}, run {run}): {test.get('result')} "
              f"after {test.get('duration', 0):.1f} s", file=sys.stderr)
        if len(lines) > len(shown):
            print(f"[the first {len(lines) - len(shown)} lines are in {path}]", file=sys.stderr)
        print("\n".join(shown), file=sys.stderr)
        print("-----", file=sys.stderr)
print(passed, len(failed), *failed)
PY
    )
    read -r p f names <<<"$counts"
    passed=$((passed + p))
    failed=$((failed + f))
    for name in $names; do failures+=("$b#$run:$name"); done
    echo "under-load: $b, run $run: $p passed, $f failed ($((SECONDS - started)) s)${names:+: $names}"
  done
done

stop_load
((failed == 0)) || echo "under-load: failed: ${failures[*]}"
echo "under-load: $passed passed, $failed failed"
((failed == 0))
