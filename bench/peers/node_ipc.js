// Node's fork() IPC on the channel benchmarks' shapes; same command line and output as
// bench_forkipc. The script is its own child (process.send exists there).
//   node node_ipc.js roundtrip N [--split] | stream N | big N BYTES | spawn N
const { fork, execFileSync } = require("child_process");

function report(shape, value, unit) {
  console.log(JSON.stringify({ shape, value, unit }));
}
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(p * (sorted.length - 1))];
}
const now = () => Number(process.hrtime.bigint()) / 1e3; // microseconds

if (process.send) {
  const role = process.argv[2];
  if (role === "echo") process.on("message", (m) => process.send(m));
  if (role === "sink") {
    let count = 0, bytes = 0;
    process.on("message", (m) => {
      if (m && m.end) process.send({ count, bytes });
      else if (m && m.pause) return;
      else { count++; if (typeof m === "string") bytes += Buffer.byteLength(m); }
    });
  }
  if (role === "hello") process.send("hello", () => process.exit(0));
} else {
  const [shape, n, extra] = process.argv.slice(2);
  const count = Number(n);
  const pin = (pid, cpu) => execFileSync("taskset", ["-pc", String(cpu), String(pid)], { stdio: "ignore" });

  if (shape === "roundtrip") {
    const split = extra === "--split";
    const child = fork(__filename, ["echo"]);
    if (split) { pin(process.pid, 0); pin(child.pid, 1); }
    const warmup = Math.floor(count / 10);
    const latencies = [];
    let sent = 0, start = 0;
    child.on("message", () => {
      if (sent > warmup) latencies.push(now() - start);
      if (sent === warmup + count) {
        const where = split ? "split CPUs" : "same CPU";
        report(`roundtrip ${where} median`, percentile(latencies, 0.5), "us");
        report(`roundtrip ${where} p99`, percentile(latencies, 0.99), "us");
        child.disconnect();
        return;
      }
      sent++; start = now(); child.send({ n: 12345 });
    });
    sent++; start = now(); child.send({ n: 12345 });
  } else if (shape === "stream" || shape === "big") {
    const message = shape === "stream" ? { n: 12345 } : "x".repeat(Number(extra));
    const child = fork(__filename, ["sink"]);
    const begin = now();
    let peakRss = process.memoryUsage().rss;
    child.on("message", (result) => {
      const seconds = (now() - begin) / 1e6;
      if (shape === "stream") {
        report("stream small", result.count / seconds, "msg/s");
        report("stream small sender peak RSS", Math.max(peakRss, process.memoryUsage().rss) / 1048576, "MB");
      } else {
        report(`stream ${Number(extra) / 1048576} MiB strings`, result.bytes / seconds / 1e6, "MB/s");
      }
      child.disconnect();
    });
    let remaining = count;
    const pump = () => {
      while (remaining > 0) {
        remaining--;
        if (!child.send(message)) { // Node queues it anyway: go on once the queue has drained
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
          child.send({ pause: true }, pump);
          return;
        }
      }
      child.send({ end: true });
    };
    pump();
  } else if (shape === "spawn") {
    const times = [];
    const once = () => {
      const begin = now();
      const child = fork(__filename, ["hello"]);
      child.once("message", () => {
        times.push((now() - begin) / 1e3);
        child.once("exit", () => (times.length < count ? once() : report("fork to first message median", percentile(times, 0.5), "ms")));
      });
    };
    once();
  }
}
