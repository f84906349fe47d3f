"""Runs the channel benchmarks side by side and prints one table.

Each shape runs for forkipc, the bare-socketpair limit (bench_raw), Node's fork IPC and Python's
multiprocessing.Pipe, three times each in this one run, the peers in turn; the table shows the
medians and the ratios that ../shared/BENCH.md sets targets for. Absolute figures drift between machines and
runs; the ratios, measured in the same run, are what count.

    python3 bench/run.py [--build build] [--markdown FILE] [--quick] [--only WORD]
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(command, timeout=300):
    """The {shape: value} lines a benchmark program printed."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
    figures = {}
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            figures[record["shape"]] = (record["value"], record["unit"])
    return figures


def medians_of(commands, repeats):
    """{peer: {shape: (median, unit)}}: each peer's command run repeats times, the peers in turn
    (A B C, A B C, ...), so that the VM's drift over the minute touches every peer alike."""
    runs = {peer: [] for peer in commands}
    for _ in range(repeats):
        for peer, command in commands.items():
            runs[peer].append(run(command))
    return {peer: {shape: (statistics.median(r[shape][0] for r in peer_runs), unit)
                   for shape, (_, unit) in peer_runs[0].items()}
            for peer, peer_runs in runs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    parser.add_argument("--markdown", help="also write the table, with the machine and date, to this file")
    parser.add_argument("--quick", action="store_true", help="fewer iterations, one run each (for a smoke test)")
    parser.add_argument("--extra", action="append", default=[],
                        help="another program printing {shape, value, unit} lines, run once, its rows added")
    parser.add_argument("--only", action="append", default=[],
                        help="run only the shapes whose arguments contain this word (repeatable)")
    args = parser.parse_args()

    # The build runs uninstalled: its library finds its spawn helper in the build's lib/.
    os.environ.setdefault("FORKIPC_LIBEXECDIR", os.path.join(os.path.abspath(args.build), "lib"))
    repeats = 1 if args.quick else 3
    scale = 10 if args.quick else 1
    peers = {
        "forkipc": [os.path.join(args.build, "bench", "bench_forkipc")],
        "raw": [os.path.join(args.build, "bench", "bench_raw")],
        "node": ["node", os.path.join(HERE, "peers", "node_ipc.js")],
        "python": [sys.executable, os.path.join(HERE, "peers", "python_pipe.py")],
    }
    same_cpu = ["taskset", "-c", "0"]
    # One Node parent echoes Buffers through three children in turn: only the child differs.
    echo_parent = ["node", os.path.join(HERE, "peers", "node_buffer_echo.js")]
    echo_children = {
        "forkipc": echo_parent + ["forkipc-advanced", peers["forkipc"][0]],
        "node": echo_parent + ["node-advanced"],
        "forkipc json": echo_parent + ["forkipc-json", peers["forkipc"][0]],
    }
    shapes = [
        # (arguments, runs on one CPU, peers that take part[, turns of each peer if not `repeats`])
        (["roundtrip", str(20000 // scale)], True, ["forkipc", "raw", "node", "python"]),
        (["roundtrip", str(20000 // scale), "--split"], False, ["forkipc", "raw", "node", "python"]),
        (["stream", str(1000000 // scale)], False, ["forkipc", "raw", "node", "python"]),
        (["big", str(200 // scale), str(1 << 20)], False, ["forkipc", "raw", "node", "python"]),
        (["spawn", str(50 // (5 if args.quick else 1))], False, ["forkipc", "raw", "node"]),
        (["spawn", str(50 // (5 if args.quick else 1)), "--zygote"], False, ["forkipc"]),
        (["recycle", str(500 // (5 if args.quick else 1))], False, ["forkipc"]),
        (["recycle", str(500 // (5 if args.quick else 1)), "--zygote"], False, ["forkipc"]),
        # binary serialization and its shared-memory path, against the raw limit
        (["stream-binary", str(1000000 // scale)], False, ["forkipc", "raw"]),
        (["binary", str(200 // scale), str(1 << 20), "--inline"], False, ["forkipc", "raw"]),
        (["binary", str(200 // scale), str(1 << 20)], False, ["forkipc", "raw"]),
        (["binary", str(40 // scale), str(16 << 20)], False, ["forkipc", "raw"]),
        (["binary", str(12 // min(scale, 4)), str(64 << 20)], False, ["forkipc", "raw"]),
        # the shared-memory transport and send_bytes; their raw column is the socketpair's row
        (["roundtrip", str(20000 // scale), "--shm"], True, ["forkipc"]),
        (["roundtrip", str(20000 // scale), "--split", "--shm"], False, ["forkipc"]),
        (["roundtrip", str(20000 // scale), "--split", "--shm", "--bytes"], False, ["forkipc"]),
        (["stream-bytes", str(3000000 // scale)], False, ["forkipc"]),
        (["stream-bytes", str(5000000 // scale), "--shm"], False, ["forkipc"]),
        (["idle", "1" if args.quick else "5", "--shm"], False, ["forkipc"]),
        (["idle", "1" if args.quick else "5"], False, ["forkipc"]),
        # Node's serialization "advanced": a Node parent echoes 1 MiB Buffers for some seconds
        # through a forkipc child in advanced, a Node child in advanced, a forkipc child in json.
        # The Node parent is the bottleneck of the first two, so the VM's load moves both: five
        # turns each rather than three.
        (["echo-buffers", "1" if args.quick else "3", str(1 << 20)], False, echo_children, 5),
    ]
    if args.only:
        shapes = [s for s in shapes if any(word in s[0] for word in args.only)]

    results = {}  # shape -> peer -> (value, unit)
    started = time.time()
    for shape_args, pinned, taking_part, *more_repeats in shapes:
        print(f"  {', '.join(taking_part)}: {' '.join(shape_args)}", file=sys.stderr, flush=True)
        # taking_part names peers, or maps them to their own commands for this shape
        peer_commands = taking_part if isinstance(taking_part, dict) else {p: peers[p] for p in taking_part}
        commands = {peer: (same_cpu if pinned else []) + command + shape_args for peer, command in peer_commands.items()}
        shape_repeats = 1 if args.quick else (more_repeats[0] if more_repeats else repeats)
        for peer, figures in medians_of(commands, shape_repeats).items():
            for shape, figure in figures.items():
                results.setdefault(shape, {})[peer] = figure
    for extra in args.extra:
        print(f"  {extra}", file=sys.stderr, flush=True)
        for shape, figure in run(extra.split()).items():
            results.setdefault(shape, {})["forkipc"] = figure
    elapsed = time.time() - started
    # A shared-memory row is measured against the bare socketpair: the same shape's raw figure.
    for shape, figures in results.items():
        if " (shm" in shape:
            base = results.get(re.sub(r" \(shm[^)]*\)", "", shape), {})
            if "raw" in base:
                figures["raw"] = base["raw"]
    # A zygote's child is measured against the bare posix_spawn and against fork() of the same run.
    if "zygote fork to first message median" in results:
        spawned = results.get("fork to first message median", {})
        for peer, key in (("raw", "raw"), ("forkipc", "fork")):
            if peer in spawned:
                results["zygote fork to first message median"][key] = spawned[peer]

    table = render(results)
    header = (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}: "
              f"{os.cpu_count()} CPUs ({cpu_model()}), Linux {platform.release()}, "
              f"node {node_version()}, Python {platform.python_version()}; {elapsed:.0f} s")
    print(header)
    print(table)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(f"Measured {header}.\n\n{table}\n")
    return 0


# The targets of ../shared/BENCH.md: (shape, description, test on the row's figures)
TARGETS = {
    "roundtrip same CPU median": ("<= 1.3x raw", lambda f: f["forkipc"] <= 1.3 * f["raw"]),
    "roundtrip split CPUs median": ("<= 1.15x raw", lambda f: f["forkipc"] <= 1.15 * f["raw"]),
    "stream small": (">= 2M/s and >= 5x node", lambda f: f["forkipc"] >= 2e6 and f["forkipc"] >= 5 * f["node"]),
    "stream small sender peak RSS": ("<= 50 MB", lambda f: f["forkipc"] <= 50),
    "stream 1 MiB strings": (">= 2x node", lambda f: f["forkipc"] >= 2 * f["node"]),
    "fork to first message median": ("<= 1.3x raw", lambda f: f["forkipc"] <= 1.3 * f["raw"]),
    "zygote fork to first message median": ("<= 0.3x fork()", lambda f: f["forkipc"] <= 0.3 * f["fork"]),
    "stream small binary": (">= 10M/s", lambda f: f["forkipc"] >= 10e6),
    "binary 1 MiB via socket": (">= 50% of raw", lambda f: f["forkipc"] >= 0.5 * f["raw"]),
    "binary 1 MiB": (">= 50% of raw", lambda f: f["forkipc"] >= 0.5 * f["raw"]),
    "binary 16 MiB": (">= 1x raw (shared memory)", lambda f: f["forkipc"] >= f["raw"]),
    "binary 64 MiB": (">= 1x raw (shared memory)", lambda f: f["forkipc"] >= f["raw"]),
    "roundtrip split CPUs (shm) median": ("<= 5 us and <= 0.25x raw",
                                          lambda f: f["forkipc"] <= 5 and f["forkipc"] <= 0.25 * f["raw"]),
    "roundtrip same CPU (shm) median": ("<= 1.2x raw", lambda f: f["forkipc"] <= 1.2 * f["raw"]),
    "stream 16-byte send_bytes (shm)": (">= 10M/s", lambda f: f["forkipc"] >= 10e6),
    "stream 16-byte send_bytes (socket)": (">= 4M/s", lambda f: f["forkipc"] >= 4e6),
    # /proc/PID/stat counts in ticks of 10 ms: over 5 s, one tick is 0.2%
    "idle channel CPU, child (shm)": ("0% (< one tick)", lambda f: f["forkipc"] < 0.2),
    "idle channel CPU, parent (shm)": ("0% (< one tick)", lambda f: f["forkipc"] < 0.2),
    "echo 1 MiB Buffers, Node parent": (">= 1x node (both advanced), >= 10x forkipc json",
                                        lambda f: f["forkipc"] >= f["node"] and f["forkipc"] >= 10 * f["forkipc json"]),
    "echo 1 MiB Buffers, Node parent: child CPU": ("<= node (less is better)", lambda f: f["forkipc"] <= f["node"]),
}

# The peers with a column of their own, in this order; a peer that only some shapes have (as
# "forkipc json") gets a column after them.
COLUMNS = ["forkipc", "raw", "node", "python"]


def render(results):
    columns = COLUMNS + sorted({p for figures in results.values() for p in figures} - set(COLUMNS))
    rows = [["shape", "unit"] + columns + ["forkipc/raw", "forkipc/node", "target", "met"]]
    for shape, figures in results.items():
        unit = next(iter(figures.values()))[1]
        value = {peer: v for peer, (v, _) in figures.items()}
        ratio = lambda peer: f"{value['forkipc'] / value[peer]:.2f}" if peer in value and value[peer] else ""
        target, test = TARGETS.get(shape, ("", None))
        met = ""
        if test:
            try:
                met = "yes" if test(value) else "NO"
            except KeyError:
                met = "?"
        rows.append([shape, unit] + [fmt(value.get(p)) for p in columns] + [ratio("raw"), ratio("node"), target, met])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    line = lambda row: "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |"
    return "\n".join([line(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows[1:]])


def fmt(value):
    if value is None:
        return ""
    if value >= 100000:
        return f"{value / 1e6:.2f}M"
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def node_version():
    try:
        return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "none"


if __name__ == "__main__":
    sys.exit(main())
