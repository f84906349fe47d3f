// The seed's child, as it is: sums 0..99999 when told to, and sends the result back.
function sum() {
  let res = 0;

  for (let i = 0; i < 10 * 10000; i++) {
    res += i;
  }

  return res;
}

process.on("message", (data) => {
  const sumRes = sum();

  // 将计算结果发送给主进程 (send the result to the parent)
  process.send(sumRes);
});
