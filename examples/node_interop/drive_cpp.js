// A Node parent driving a C++ worker (cpp_worker.cpp) with Node's own child_process.fork: the
// C++ program is the execPath. After building (scripts/build.sh):
//   node examples/node_interop/drive_cpp.js [path of cpp_worker]
// It sends three requests, prints the answers and disconnects; the worker then exits 0.
"use strict";
const { fork } = require("child_process");
const path = require("path");

const worker = process.argv[2] ?? path.join(__dirname, "../../build/examples/node_interop/cpp_worker");

// fork() runs `execPath ...execArgv modulePath`: for a C++ program the module path is only its
// argv[1], and execArgv (node's own flags) must not reach it. spawn(worker, [], {stdio: [0, 1, 2,
// "ipc"]}) would do as well: any 'ipc' entry in stdio gives a channel.
const child = fork("sum", [], { execPath: worker, execArgv: [] });

const requests = [10, 100000, 1000000];
let answered = 0;
child.on("message", (reply) => {
  console.log(`C++ worker answered ${JSON.stringify(reply)}`);
  const n = requests[reply.id];
  if (reply.sum !== (n * (n - 1)) / 2) process.exitCode = 1;
  if (++answered === requests.length) child.disconnect();  // the worker sees the end and exits
});
child.on("exit", (code, signal) => {
  console.log(`C++ worker exited with code ${code}${signal ? `, signal ${signal}` : ""}`);
  if (code !== 0 || answered < requests.length) process.exitCode = 1;
});
child.on("error", (err) => {
  const hint = err.code === "ENOENT" ? " (build it first: scripts/build.sh)" : "";
  console.error(`C++ worker ${worker}: ${err.message}${hint}`);
  process.exitCode = 1;
});

child.on("spawn", () => requests.forEach((n, id) => child.send({ id, sum_below: n })));
