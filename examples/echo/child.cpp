// The child: answers each message from its parent with {"echo": message}. io.run() returns once
// the parent disconnects, and the child exits.
#include <forkipc/forkipc.hpp>

int main() {
  boost::asio::io_context io;
  auto parent = forkipc::parent(io);
  parent->on("message", [&](const forkipc::json& message) { parent->send({{"echo", message}}); });
  io.run();
}
