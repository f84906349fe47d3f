"""Compares two builds of bench_forkipc on the same shapes, run in alternation.

On a noisy VM, figures drift by tens of percent between minutes; running build A and build B
one after the other, round after round (A B, then B A), exposes both to the same drift. Prints,
per shape, the median of each build, their ratio, the median of the ratios of each round's pair,
and the interquartile ranges.

    python3 bench/alternate.py OLD/bench/bench_forkipc NEW/bench/bench_forkipc [--rounds 30]
        [--shape "binary 200 1048576"] ...   (default: the binary shapes of bench/run.py)
        [--shape "cpu0: roundtrip 20000"]    (a shape run on CPU 0 only, with taskset, as run.py does)
        [--all]                              (every forkipc shape of bench/run.py)
        [--values]                           (every run's figure too, sorted)
"""
import argparse
import json
import os
import statistics
import subprocess
import time

DEFAULT_SHAPES = ["binary 200 1048576", "binary 40 16777216", "binary 12 67108864"]
# Every shape of bench/run.py that bench_forkipc measures, as run.py runs it.
ALL_SHAPES = ["cpu0: roundtrip 20000", "roundtrip 20000 --split", "stream 1000000", "big 200 1048576", "spawn 50",
              "stream-binary 1000000", "binary 200 1048576 --inline"] + DEFAULT_SHAPES + [
              "cpu0: roundtrip 20000 --shm", "roundtrip 20000 --split --shm", "roundtrip 20000 --split --shm --bytes",
              "stream-bytes 3000000", "stream-bytes 5000000 --shm", "idle 5 --shm", "idle 5"]


def uninstalled_env(binary):
    """The environment a build's uninstalled program runs in: its library finds its spawn helper
    (on the posix backend every child starts through it) in the build's lib/."""
    env = dict(os.environ)
    env["FORKIPC_LIBEXECDIR"] = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(binary))), "lib")
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--shape", action="append", help="bench_forkipc arguments, quoted; repeatable")
    parser.add_argument("--values", action="store_true", help="also print every run's figure, sorted")
    parser.add_argument("--all", action="store_true", help="every forkipc shape of bench/run.py")
    args = parser.parse_args()
    builds = {"old": args.old, "new": args.new}
    # "cpu0: ..." runs on CPU 0 only.
    shapes = [(["taskset", "-c", "0"], s[5:].split()) if s.startswith("cpu0:") else ([], s.split())
              for s in (ALL_SHAPES if args.all else args.shape or DEFAULT_SHAPES)]

    results = {}  # shape -> build -> [values]
    for r in range(args.rounds):
        for prefix, shape in shapes:
            for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
                out = subprocess.run(prefix + [builds[name]] + shape, capture_output=True, text=True, timeout=300,
                                     check=True, env=uninstalled_env(builds[name])).stdout
                for line in out.splitlines():
                    if line.startswith("{"):
                        record = json.loads(line)
                        results.setdefault((record["shape"], record["unit"]), {}).setdefault(name, []).append(
                            record["value"])

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.rounds} rounds")
    print("| shape | unit | old median | new median | new/old | median of paired ratios | old p25-p75 | new p25-p75 |")
    print("|---|---|---|---|---|---|---|---|")
    for (shape, unit), by in results.items():
        old, new = by["old"], by["new"]
        ratios = [b / a for a, b in zip(old, new) if a != 0]
        paired = statistics.median(ratios) if ratios else float("nan")
        q_old, q_new = statistics.quantiles(old, n=4), statistics.quantiles(new, n=4)
        print(f"| {shape} | {unit} | {statistics.median(old):.0f} | {statistics.median(new):.0f} | "
              f"{statistics.median(new) / statistics.median(old) if statistics.median(old) else float('nan'):.2f} | {paired:.2f} | "
              f"{q_old[0]:.0f}-{q_old[2]:.0f} | {q_new[0]:.0f}-{q_new[2]:.0f} |")
    if args.values:
        for (shape, unit), by in results.items():
            for name in ("old", "new"):
                print(f"{shape} {name}: {' '.join(f'{v:.0f}' for v in sorted(by[name]))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
