"""Chaos under load: the sum server (pool mode) under wrk while one of its workers is SIGKILLed
every --kill-every seconds. Reports the requests served and failed (only those in flight on a
killed worker may fail, each with a 500: any other status, socket error or timeout is a
failure of the server), the server's RSS and descriptor count at the start and the end of the
load (they must be flat), and that no sum_child is left after SIGTERM. Exits non-zero when a
promise does not hold.

    python3 bench/soak.py [--build build] [--seconds 60] [--kill-every 0.2] [--markdown FILE]
"""
import argparse
import importlib.util
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("http_run", os.path.join(HERE, "http", "run.py"))
http_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(http_run)

# Counts the responses by status in each of wrk's threads, and prints the totals at the end.
WRK_SCRIPT = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do io.write(string.format("status %d %d\n", status, n)) end
  local e = summary.errors
  io.write(string.format("socket errors %d %d %d %d %d\n", e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def children_of(pid):
    """The server's live children: its workers."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


def processes_named(name):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def settled_fd_count(pid):
    """The descriptor count once the closed connections are gone (it stops changing)."""
    last = fd_count(pid)
    for _ in range(100):
        time.sleep(0.1)
        now = fd_count(pid)
        if now == last:
            return now
        last = now
    return last


def wait_for(condition, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--kill-every", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--markdown", help="also append the figures, with the date, to this file")
    args = parser.parse_args()

    leftover = processes_named("sum_child")
    server, port = http_run.start([os.path.join(args.build, "examples", "sum_server", "sum_server"),
                                   "--port", "0", "--workers", str(args.workers)])
    url = f"http://127.0.0.1:{port}/sum"
    # Warm up: every worker started, the allocator's arenas grown to the load's size.
    subprocess.run(["wrk", "-t2", f"-c{args.connections}", "-d2s", url], capture_output=True, check=True)
    wait_for(lambda: len(children_of(server.pid)) == args.workers, 10)
    start_fds = settled_fd_count(server.pid)
    start_rss = rss_kb(server.pid)

    kills = 0
    stop = threading.Event()

    def killer():
        nonlocal kills
        while not stop.wait(args.kill_every):
            workers = children_of(server.pid)
            if workers:
                try:
                    os.kill(random.choice(workers), signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    thread = threading.Thread(target=killer)
    thread.start()
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--timeout", "5s",
                              "-s", script.name, url], capture_output=True, text=True, check=True).stdout
    finally:
        stop.set()
        thread.join()
        os.unlink(script.name)
    statuses = {int(s): int(n) for s, n in re.findall(r"^status (\d+) (\d+)$", out, re.M)}
    socket_errors = [int(n) for n in re.search(r"^socket errors (\d+) (\d+) (\d+) (\d+) (\d+)$", out, re.M).groups()]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    # The pool replaces the last killed workers; then the server is measured at rest again.
    restored = wait_for(lambda: len(children_of(server.pid)) == args.workers, 10)
    end_fds = settled_fd_count(server.pid)
    end_rss = rss_kb(server.pid)
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=30)
    left = [p for p in processes_named("sum_child") if p not in leftover]

    served, failed_500 = statuses.get(200, 0), statuses.get(500, 0)
    other = {s: n for s, n in statuses.items() if s not in (200, 500)}
    problems = []
    if other:
        problems.append(f"statuses other than 200 and 500: {other}")
    connect, read, write, _, timeout = socket_errors  # the fourth counts statuses, checked above
    if connect or read or write or timeout:
        problems.append(f"socket errors: connect {connect}, read {read}, write {write}, timeout {timeout}")
    if failed_500 > kills * args.connections:
        problems.append(f"{failed_500} failed requests for {kills} kills: more than were in flight")
    if not restored:
        problems.append(f"the pool did not get back to {args.workers} workers")
    if end_fds > start_fds:
        problems.append(f"descriptors grew from {start_fds} to {end_fds}")
    if end_rss > start_rss * 1.25 + 2048:
        problems.append(f"RSS grew from {start_rss} kB to {end_rss} kB")
    if code != 0:
        problems.append(f"the server exited with {code} after SIGTERM")
    if left:
        problems.append(f"sum_child processes left after SIGTERM: {left}")

    row = (f"| {time.strftime('%Y-%m-%d')} | {args.seconds} s, -c{args.connections}, {args.workers} workers, "
           f"a kill every {args.kill_every * 1000:.0f} ms | {kills} | {served} ({rate:.0f}/s) | {failed_500} | "
           f"{start_rss / 1024:.1f} -> {end_rss / 1024:.1f} MB | {start_fds} -> {end_fds} | {len(left)} |")
    header = ("| date | run | workers killed | requests served | failed (500) | server RSS | server fds | "
              "sum_child left after SIGTERM |\n|---|---|---|---|---|---|---|---|")
    print(header)
    print(row)
    for p in problems:
        print(f"soak: {p}", file=sys.stderr)
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as f:
            f.write(row + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
