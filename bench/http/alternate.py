"""Compares two builds of the sum server under wrk, run in alternation (A B, then B A).

On a noisy VM, throughput drifts by tens of percent between minutes; running both builds in
turn, round after round, exposes both to the same drift. Each run warms up for 1 s, then loads
the server for --seconds. Prints every run's figure, each build's median and the median of the
paired ratios.

    python3 bench/http/alternate.py OLD_BUILD NEW_BUILD [--rounds 3] [--seconds 8]
        [--args "--mode per-request"]       (sum_server arguments, the same for both builds)
        [--new-args "--mode per-request --zygote"]   (for the new build only, instead of --args)
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import load, start, stop  # noqa: E402


def run_once(build, extra, seconds, connections):
    server = os.path.join(build, "examples", "sum_server", "sum_server")
    process, port = start([server, "--port", "0"] + extra)
    try:
        load(port, 1, connections)  # warm-up
        rate, errors = load(port, seconds, connections)
    finally:
        left = stop(process)
    if errors or left:
        raise RuntimeError(f"{build}: {errors} non-2xx answers, {left} processes left")
    return rate


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--args", default="", help="sum_server arguments for both builds")
    parser.add_argument("--new-args", help="sum_server arguments for the new build (default: --args)")
    args = parser.parse_args()
    extra = {"old": args.args.split(), "new": (args.new_args if args.new_args is not None else args.args).split()}
    builds = {"old": args.old, "new": args.new}

    rates = {"old": [], "new": []}
    for r in range(args.rounds):
        for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
            rates[name].append(run_once(builds[name], extra[name], args.seconds, args.connections))
            print(f"  round {r + 1} {name}: {rates[name][-1]:,.0f} req/s", file=sys.stderr, flush=True)

    paired = statistics.median(n / o for o, n in zip(rates["old"], rates["new"]))
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, wrk -t2 -c{args.connections} "
          f"-d{args.seconds}s, {args.rounds} rounds")
    for name in ("old", "new"):
        print(f"- {name} ({builds[name]} {' '.join(extra[name])}): "
              f"{', '.join(f'{x / 1000:.1f}k' for x in rates[name])}; median {statistics.median(rates[name]):,.0f} req/s")
    print(f"- new/old, median of paired ratios: {paired:.2f}")


if __name__ == "__main__":
    main()
