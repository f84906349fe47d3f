// A Node child that throws an uncaught exception when the first message comes: Node prints it
// to stderr and exits with code 1.
"use strict";
process.on("message", () => {
  throw new Error("crash.js: crashing as asked");
});
