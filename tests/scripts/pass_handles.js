// A Node parent that passes handles to the C++ child tests/helpers/handle_child, started with
// fork(..., {execPath, serialization}). Usage:
//   node pass_handles.js <path of handle_child> [json|advanced]
// 1. passes a listening net.Server with {do: "accept"}, connects, and reads what the child
//    writes on the connection it accepted;
// 2. passes a connected net.Socket with {do: "answer"} and reads the answer on the other end.
// Reports {server: <text read>, socket: <text read>, events: [...], replies: [...]}.
"use strict";
const net = require("net");
const { fork } = require("child_process");
const { report } = require("./cpp_child.js");

const [program, serialization = "json"] = process.argv.slice(2);
const record = { events: [], replies: [], server: "", socket: "" };
const child = fork("handles", [], { execPath: program, serialization });
setTimeout(() => { child.kill("SIGKILL"); report({ timed_out: 20000, ...record }); }, 20000).unref();
child.on("message", (m) => record.replies.push(m));
// This parent disconnects, after which Node never emits "close" (a known Node defect): the
// report goes out on "exit".
child.on("exit", (code, signal) => {
  record.events.push(`exit ${code} ${signal}`);
  report(record);
});

function readAll(socket) {
  return new Promise((resolve) => {
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (d) => (text += d));
    socket.on("end", () => resolve(text));
    socket.on("error", (e) => resolve(`error: ${e.message}`));
  });
}

async function main() {
  // 1. a listening server
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => child.send({ do: "accept" }, server, resolve));
  server.close();  // Node keeps a sent server open in the sender; the child serves now
  record.server = await readAll(net.connect(port, "127.0.0.1"));

  // 2. a connected socket: the child gets the server side of a new connection
  const listener = net.createServer({ pauseOnConnect: true });
  await new Promise((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const accepted = new Promise((resolve) => listener.once("connection", resolve));
  const client = net.connect(listener.address().port, "127.0.0.1");
  const reading = readAll(client);
  const serverSide = await accepted;
  await new Promise((resolve) => child.send({ do: "answer" }, serverSide, resolve));
  record.socket = await reading;
  listener.close();
  child.disconnect();
}
main().catch((e) => { record.events.push(`error ${e.message}`); child.kill(); });
