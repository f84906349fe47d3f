"""The sum server under load: wrk against each server in one run, for the same duration.

Servers: sum_server in pool mode and in per-request mode, the seed's Node server (a child
forked per request, never let go), a Node server with a pool of pre-forked children, and nginx
returning the fixed body (this machine's HTTP ceiling) when nginx is installed. After each
load it counts the child processes the server still has, then stops it.

    python3 bench/http/run.py [--build build] [--seconds 10] [--markdown FILE]
"""
import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
BODY = "sumRes is 4999950000"


def group_members(pgid):
    """The live processes of a process group (each server runs in a group of its own)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(stat.split("/")[2]))
        except (OSError, IndexError, ValueError):
            pass
    return found


def start(command, env=None):
    """Starts a server that prints "... port N"; returns (process, port)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, **(env or {})}, start_new_session=True)
    line = process.stdout.readline()
    match = re.search(r"port (\d+)", line)
    if not match:
        process.kill()
        raise RuntimeError(f"{' '.join(command)} did not say its port: {line!r}")
    return process, int(match.group(1))


def load(port, seconds, connections):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}/sum"],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, int(errors.group(1)) if errors else 0


def check_body(port):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/sum", timeout=30) as response:
        body = response.read().decode()
    if body != BODY:
        raise RuntimeError(f"port {port} answered {body!r}")


def stop(process):
    """SIGTERM; returns how many of its processes outlive it (the seed's children), then kills them."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    time.sleep(0.5)  # children that exit on their channel's end have had time to go
    left = len(group_members(process.pid))
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return left


def nginx_server(tmp):
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off; worker_processes auto; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; server {{ listen 127.0.0.1:0; location /sum {{ default_type text/plain; return 200 "{BODY}"; }} }} }}
""")
    # nginx cannot pick a free port itself and say it: take one, then let it go for nginx.
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with open(conf) as f:
        text = f.read().replace("127.0.0.1:0", f"127.0.0.1:{port}")
    with open(conf, "w") as f:
        f.write(text)
    process = subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(100):
        try:
            check_body(port)
            return process, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--markdown")
    args = parser.parse_args()

    sum_server = os.path.join(args.build, "examples", "sum_server", "sum_server")
    sum_child = os.path.join(args.build, "examples", "sum_server", "sum_child")
    seed = os.path.join(ROOT, "examples", "sum_server", "seed", "main.js")
    servers = [
        ("forkipc sum_server, pool", lambda: start([sum_server, "--port", "0"])),
        ("forkipc sum_server, per-request", lambda: start([sum_server, "--port", "0", "--mode", "per-request"])),
        ("Node, seed (fork per request)", lambda: start(["node", seed], {"PORT": "0"})),
        ("Node, pool of pre-forked children", lambda: start(["node", os.path.join(HERE, "node_pool_server.js")],
                                                            {"PORT": "0", "WORKERS": str(os.cpu_count())})),
    ]
    tmp = tempfile.mkdtemp(prefix="forkipc-bench-")
    if shutil.which("nginx"):
        servers.append(("nginx, fixed body (ceiling)", lambda: nginx_server(tmp)))

    rows = {}
    for name, starter in servers:
        print(f"  {name}", file=sys.stderr, flush=True)
        process, port = starter()
        check_body(port)
        rate, errors = load(port, args.seconds, args.connections)
        rows[name] = (rate, errors, stop(process))
    shutil.rmtree(tmp, ignore_errors=True)

    pool, per_request = rows["forkipc sum_server, pool"][0], rows["forkipc sum_server, per-request"][0]
    node_pool, seed_rate = rows["Node, pool of pre-forked children"][0], rows["Node, seed (fork per request)"][0]
    lines = [f"wrk -t2 -c{args.connections} -d{args.seconds}s GET /sum, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             "", "| server | requests/s | non-2xx | processes left after SIGTERM |", "|---|---|---|---|"]
    for name, (rate, errors, left) in rows.items():
        lines.append(f"| {name} | {rate:,.0f} | {errors} | {left} |")
    ratio = lambda a, b: f"{a / b:.1f}x" if b else "infinite (it answered nothing)"
    lines += ["", f"- pool mode / Node pool: {ratio(pool, node_pool)} (target >= 4x): {'met' if pool >= 4 * node_pool else 'NOT met'}",
              f"- per-request mode / seed: {ratio(per_request, seed_rate)} (target >= 20x): {'met' if per_request >= 20 * seed_rate else 'NOT met'}"]
    if "nginx, fixed body (ceiling)" in rows:
        ceiling = rows["nginx, fixed body (ceiling)"][0]
        lines.append(f"- pool mode / nginx ceiling: {pool / ceiling:.0%} (target >= 60%): {'met' if pool >= 0.6 * ceiling else 'NOT met'}")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    ours_left = rows["forkipc sum_server, pool"][2] + rows["forkipc sum_server, per-request"][2]
    return 0 if ours_left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
