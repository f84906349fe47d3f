// A Node parent that echoes Buffers through a child, in Node's serialization "advanced" or
// "json": the peers of bench/run.py's "echo Buffers" shape run this one script, each with its
// own child, so that only the child differs. The script is also the Node child (process.send
// exists there). Usage:
//   node node_buffer_echo.js <child> [program] echo-buffers SECONDS BYTES
// child: "forkipc-advanced" or "forkipc-json" (program: bench_forkipc, forked with
// {execPath: program}, its role "echo") or "node-advanced" (this script). Up to four Buffers
// are in flight at once; after the first echo, it counts the bytes that come back for SECONDS
// and prints {"shape", "value", "unit"} lines as bench_forkipc does: the rate, and the CPU time
// the child used meanwhile per MiB echoed (from /proc, in ticks of 10 ms), which the load of
// other processes on the machine changes far less than the rate.
"use strict";
const { fork } = require("child_process");
const fs = require("fs");

// The CPU time pid has used, user and system, in seconds.
function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;  // utime, stime: fields 14 and 15
}

if (process.send) {
  process.on("message", (m) => process.send(m));
} else {
  const args = process.argv.slice(2);
  const child = args[0];
  const program = child === "node-advanced" ? null : args[1];
  const [shape, seconds, bytes] = args.slice(program === null ? 1 : 2);
  if (shape !== "echo-buffers") throw new Error(`node_buffer_echo.js: unknown shape ${shape}`);
  const serialization = child === "forkipc-json" ? "json" : "advanced";
  const worker = program === null
    ? fork(__filename, [], { serialization })
    : fork("echo", [], { execPath: program, execArgv: [], serialization });
  const payload = Buffer.alloc(Number(bytes), 0x5a);
  const inFlight = 4;
  const now = () => Number(process.hrtime.bigint()) / 1e9;
  let start = 0, startCpu = 0, echoed = 0, outstanding = 0, stopping = false;
  const sizeOf = (m) => (Buffer.isBuffer(m) ? m.length : m.data.length);  // json: {type: "Buffer", data}
  const send = () => {
    outstanding++;
    worker.send(payload);
  };
  worker.on("message", (m) => {
    outstanding--;
    if (sizeOf(m) !== payload.length) throw new Error("an echo of the wrong size");
    if (start === 0) {
      start = now();  // the first echo warms both ends up: count from here
      startCpu = cpuSeconds(worker.pid);
    } else if (!stopping) {
      echoed += sizeOf(m);
    }
    if (!stopping && now() - start >= Number(seconds)) {
      stopping = true;
      const shape = `echo ${Number(bytes) / 1048576} MiB Buffers, Node parent`;
      const cpu = cpuSeconds(worker.pid) - startCpu;
      console.log(JSON.stringify({ shape, value: echoed / (now() - start) / 1e6, unit: "MB/s" }));
      console.log(JSON.stringify({ shape: `${shape}: child CPU`, value: (cpu * 1e3) / (echoed / 1048576), unit: "ms/MiB" }));
    }
    if (!stopping) send();
    else if (outstanding === 0) worker.disconnect();  // the last echo is in: a clean end for both
  });
  for (let i = 0; i < inFlight; i++) send();
}
