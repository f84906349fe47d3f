// A Node child: answers every message with itself; {"exit": N} makes it send {"bye": N} and exit
// with N once that is written.
process.on("message", (message) => {
  if (message && typeof message === "object" && "exit" in message) {
    process.send({ bye: message.exit }, () => process.exit(message.exit));
    return;
  }
  process.send(message);
});
