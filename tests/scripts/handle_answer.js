// A Node child that uses the handles its C++ parent passes:
//   {do: "answer"} + a net.Socket   writes "answered by node\n" on it and ends it
//   {do: "serve"}  + a net.Server   answers each connection with "hello from node\n"
// and reports {done: <do>, type: <what Node made of the handle>} to the parent.
"use strict";
const net = require("net");

process.on("message", (message, handle) => {
  const type = handle instanceof net.Server ? "net.Server" : handle instanceof net.Socket ? "net.Socket" : typeof handle;
  if (message.do === "answer") {
    handle.end("answered by node\n", () => process.send({ done: "answer", type }));
  } else if (message.do === "serve") {
    handle.on("connection", (socket) => socket.end("hello from node\n"));
    process.send({ done: "serve", type });
  } else {
    process.send({ done: "nothing", type });
  }
});
process.on("disconnect", () => process.exit(0));
