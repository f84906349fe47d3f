// The parent: forks ./echo_child, sends it three messages, prints what comes back, then
// disconnects; the child sees the end of its channel and exits.
#include <forkipc/forkipc.hpp>

#include <filesystem>
#include <iostream>

int main(int, char** argv) {
  boost::asio::io_context io;
  const auto child_path = std::filesystem::path(argv[0]).parent_path() / "echo_child";
  auto child = forkipc::fork(io, child_path.string());

  int answers = 0;
  child->on("message", [&](const forkipc::json& message) {
    std::cout << "parent got: " << message.dump() << "\n";
    if (++answers == 3) child->disconnect();
  });
  child->on("exit", [](std::optional<int> code, std::optional<int> signal) {
    if (code) std::cout << "child exited with code " << *code << "\n";
    if (signal) std::cout << "child ended by signal " << *signal << "\n";
  });
  child->on("error", [](const forkipc::error& e) { std::cerr << "error: " << e.what() << "\n"; });

  child->send("hello");
  child->send({{"numbers", {1, 2, 3}}});
  child->send({{"text", "中文 and 😀"}});
  io.run();  // returns once the child has exited and its channel is closed
}
