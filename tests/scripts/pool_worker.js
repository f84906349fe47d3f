// A pool worker written in Node, speaking forkipc's request/reply envelope (see pool.hpp):
// answers {"op": "echo", "value": x} with x, {"op": "pid"} with its pid; anything else fails.
process.on("message", (m) => {
  if (!m || m.forkipc !== "request") return;
  const { id, body } = m;
  if (body && body.op === "echo") process.send({ forkipc: "reply", id, body: body.value });
  else if (body && body.op === "pid") process.send({ forkipc: "reply", id, body: process.pid });
  else process.send({ forkipc: "error", id, message: "unknown request" });
});
