"""Python's multiprocessing.Pipe on the channel benchmarks' shapes; same command line and
output as bench_forkipc (fork to first message is not measured: the table leaves it blank).

    python3 python_pipe.py roundtrip N [--split] | stream N | big N BYTES
"""
import json
import multiprocessing as mp
import os
import resource
import sys
import time

MESSAGE = {"n": 12345}


def report(shape, value, unit):
    print(json.dumps({"shape": shape, "value": value, "unit": unit}), flush=True)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[int(p * (len(ordered) - 1))]


def echo(conn):
    try:
        while True:
            conn.send(conn.recv())
    except EOFError:
        pass


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
    ours.close()
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
        report(shape + " sender peak RSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MB")


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
