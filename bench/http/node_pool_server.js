// The careful Node version of the sum server, for comparison with sum_server's pool mode: N
// children forked once (the seed's child.js), each request sent to the next one in turn, the
// answers matched in order (a child answers its messages in the order they came).
//   PORT=3000 WORKERS=2 node node_pool_server.js
const http = require("http");
const cp = require("child_process");
const os = require("os");
const path = require("path");

const workers = Number(process.env.WORKERS || os.cpus().length);
const children = [];
for (let i = 0; i < workers; i++) {
  const child = cp.fork(path.join(__dirname, "..", "..", "examples", "sum_server", "seed", "child.js"));
  const waiting = []; // responses, in the order their requests went to this child
  child.on("message", (sum) => waiting.shift().end("sumRes is " + sum));
  children.push({ child, waiting });
}

let next = 0;
const server = http.createServer((req, res) => {
  if (req.url !== "/sum") {
    res.statusCode = 404;
    res.end("not found");
    return;
  }
  const worker = children[next++ % children.length];
  worker.waiting.push(res);
  worker.child.send("开始计算");
});

server.listen(process.env.PORT === undefined ? 3000 : Number(process.env.PORT), () => {
  console.log("server running at port " + server.address().port);
});

process.on("SIGTERM", () => {
  server.close();
  for (const { child } of children) child.disconnect();
});
