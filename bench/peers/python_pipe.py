"""Python's multiprocessing.Pipe on the channel benchmarks' shapes; same command line and
output as bench_forkipc (fork to first message is not measured: the table leaves it blank).

    python3 python_pipe.py roundtrip N [--split] | stream N | big N BYTES
"""
import json
import multiprocessing as mp
import os
import sys
import time

MESSAGE = {"n": 12345}


def report(shape, value, unit):
    print(json.dumps({"shape": shape, "value": value, "unit": unit}), flush=True)


def peak_rss_mb():
    """VmHWM: ru_maxrss would count the driver that started us (Linux keeps it across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0


def percentile(values, p):
    ordered = sorted(values)
    return ordered[int(p * (len(ordered) - 1))]


def echo(conn):
    # None ends it: the forked child holds the parent's end of the pipe too, so no EOF comes.
    while (m := conn.recv()) is not None:
        conn.send(m)


def sink(conn):
    count = size = 0
    while True:
        m = conn.recv()
        if isinstance(m, dict) and m.get("end"):
            conn.send({"count": count, "bytes": size})
            return
        count += 1
        if isinstance(m, (bytes, str)):
            size += len(m)


def roundtrip(count, split):
    ours, theirs = mp.Pipe()
    child = mp.Process(target=echo, args=(theirs,))
    child.start()
    if split:
        os.sched_setaffinity(0, {0})
        os.sched_setaffinity(child.pid, {1})
    latencies = []
    for i in range(count + count // 10):
        begin = time.perf_counter()
        ours.send(MESSAGE)
        ours.recv()
        if i >= count // 10:
            latencies.append((time.perf_counter() - begin) * 1e6)
    ours.send(None)
    child.join()
    where = "split CPUs" if split else "same CPU"
    report(f"roundtrip {where} median", percentile(latencies, 0.5), "us")
    report(f"roundtrip {where} p99", percentile(latencies, 0.99), "us")


def one_way(count, payload, shape):
    ours, theirs = mp.Pipe()
    child = mp.Process(target=sink, args=(theirs,))
    child.start()
    begin = time.perf_counter()
    for _ in range(count):  # a Pipe's send blocks when the socket is full: that is its backpressure
        ours.send(payload)
    ours.send({"end": True})
    result = ours.recv()
    elapsed = time.perf_counter() - begin
    child.join()
    if isinstance(payload, bytes):
        report(shape, result["bytes"] / elapsed / 1e6, "MB/s")
    else:
        report(shape, result["count"] / elapsed, "msg/s")
        report(shape + " sender peak RSS", peak_rss_mb(), "MB")


def main():
    shape, count = sys.argv[1], int(sys.argv[2])
    if shape == "roundtrip":
        roundtrip(count, len(sys.argv) > 3 and sys.argv[3] == "--split")
    elif shape == "stream":
        one_way(count, MESSAGE, "stream small")
    elif shape == "big":
        size = int(sys.argv[3])
        one_way(count, b"x" * size, f"stream {size >> 20} MiB strings")


if __name__ == "__main__":
    mp.set_start_method("fork")
    main()
