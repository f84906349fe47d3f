// A Node worker for a C++ parent (drive_node.cpp): answers each request {"id": k, "sum_below": n}
// with {"id": k, "sum": 0 + 1 + ... + (n - 1)}, as cpp_worker does. Its "message" listener keeps
// it running until the parent disconnects.
"use strict";
process.on("message", ({ id, sum_below: n }) => {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += i;
  process.send({ id, sum, node: process.version });
});
