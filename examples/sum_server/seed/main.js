// The seed's server (../../../shared/seed: the article forkipc comes from), as it is, with two
// additions so it can be measured and tested beside sum_server: PORT picks the port (default 3000,
// as in the seed; 0 picks a free one), and SUM_CHILD, when set, makes fork() run that program
// (forkipc's sum_child) through Node's execPath option instead of `node child.js`.
//
// Its defect is kept on purpose: every request forks a child that never exits (the open channel
// keeps it alive), so each request leaves a process behind.
const http = require("http");
const cp = require("child_process");
const path = require("path");

const childOptions = process.env.SUM_CHILD ? { execPath: process.env.SUM_CHILD } : {};

const server = http.createServer((req, res) => {
  if (req.url === "/sum") {
    // 开启子进程 (start the child)
    const childProcess = cp.fork(path.join(__dirname, "child.js"), [], childOptions);

    // 主进程通知子进程开始计算 (tell the child to start computing)
    childProcess.send("开始计算");

    // 主进程接收到子进程传过来的数据 (the child's answer)
    childProcess.on("message", (data) => {
      res.end("sumRes is " + data);
    });

    // 监听子进程的错误 (the child ended with an error)
    childProcess.on("close", () => {
      console.error("子进程报错退出");
      res.end("error");
    });
  }
});

server.listen(process.env.PORT === undefined ? 3000 : Number(process.env.PORT), () => {
  console.log("server running at port " + server.address().port);
});
