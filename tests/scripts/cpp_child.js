// What the Node parent scripts share: starting a C++ child the two ways Node can, recording what
// Node reports of it, and handing a result to whoever started the script.
"use strict";
const { fork, spawn } = require("child_process");

// how "fork":  fork(api, [], {execPath: program}): the channel is on the child's fd 3.
// how "spawn": spawn(program, [api], {stdio: [0, 1, 2, "pipe", "ipc"]}): fd 3 is a plain pipe and
//              the channel is on fd 4.
// Either way the program gets api as argv[1]. stderr "pipe" captures the child's stderr.
// Returns the ChildProcess and a record of its events, as strings ("spawn", "exit 0 null"),
// its messages, and its stderr.
function start(how, program, api, { serialization = "json", stderr = "inherit" } = {}) {
  let child;
  if (how === "fork") {
    child = fork(api, [], { execPath: program, serialization, stdio: ["inherit", "inherit", stderr, "ipc"] });
  } else if (how === "spawn") {
    child = spawn(program, [api], { serialization, stdio: ["inherit", "inherit", stderr, "pipe", "ipc"] });
  } else {
    throw new Error(`cpp_child.js: "${how}" is neither "fork" nor "spawn"`);
  }
  const record = { events: [], messages: [], stderr: "" };
  child.on("spawn", () => record.events.push("spawn"));
  child.on("message", (message) => record.messages.push(message));
  child.on("disconnect", () => record.events.push("disconnect"));
  child.on("exit", (code, signal) => record.events.push(`exit ${code} ${signal}`));
  child.on("close", (code, signal) => record.events.push(`close ${code} ${signal}`));
  child.on("error", (err) => record.events.push(`error ${err.code || err.message}`));
  if (child.stderr) child.stderr.on("data", (data) => (record.stderr += data));
  return { child, record };
}

// Sends result to the process that forked this script (the C++ test), or prints it when the
// script was run by hand. Only the first result counts: after the watchdog's, the end of the
// child it killed reports nothing more.
let reported = false;
function report(result) {
  if (reported) return;
  reported = true;
  if (process.send) process.send(result);
  else console.log(JSON.stringify(result, null, 2));
}

// After ms, kills the child and reports what was seen so far: a test waits for a report, never
// for ever.
function watchdog(ms, child, record) {
  setTimeout(() => {
    child.kill("SIGKILL");
    report({ timed_out: ms, ...record });
  }, ms).unref();
}

module.exports = { start, report, watchdog };
