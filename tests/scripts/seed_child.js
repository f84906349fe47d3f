// The seed's child.js, as the tutorial wrote it: any message starts the sum of 0..99999, and the
// result (4999950000) is sent back. Its "message" listener keeps it alive until the parent
// disconnects.
function sum() {
  let res = 0;

  for (let i = 0; i < 10 * 10000; i++) {
    res += i;
  }

  return res;
}

process.on("message", (data) => {
  const sumRes = sum();

  // 将计算结果发送给主进程
  process.send(sumRes);
});
