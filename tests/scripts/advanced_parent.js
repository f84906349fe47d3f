// A Node parent that starts the C++ child tests/helpers/interop_child with serialization
// "advanced" (V8's format, which forkipc does not speak). Usage:
//   node advanced_parent.js <fork|spawn> <path of interop_child> <async|sync>
// It sends the child a message at once, in V8's format, and never disconnects: the child can only
// end by refusing the channel. Reports {events, messages, stderr, ms (from start to close)}.
"use strict";
const { start, report, watchdog } = require("./cpp_child.js");

const [how, program, api] = process.argv.slice(2);
const started = Date.now();
const { child, record } = start(how, program, api, { serialization: "advanced", stderr: "pipe" });
watchdog(20000, child, record);
child.send({ v8: "bytes", n: 1n });  // a BigInt: JSON could not even carry it
child.on("close", () => report({ ...record, ms: Date.now() - started }));
