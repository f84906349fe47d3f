// Built by CMake against the installed forkipc (find_package, forkipc::forkipc). It is its own
// child: the parent forks this program again, sends a message and expects it echoed.
#include <forkipc/forkipc.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>

int main() {
  if (forkipc::has_parent()) {  // the child: echo every message until the parent disconnects
    forkipc::sync::parent parent;
    while (auto message = parent.receive()) parent.send({{"echo", *message}});
    return 0;
  }

  boost::asio::io_context io;
  auto child = forkipc::fork(io, std::filesystem::canonical("/proc/self/exe").string());
  forkipc::json reply;
  std::optional<int> code;
  child->on("message", [&](const forkipc::json& message) {
    reply = message;
    child->disconnect();
  });
  child->on("exit", [&](std::optional<int> exit_code, std::optional<int>) { code = exit_code; });
  child->send({{"hello", "cmake"}});
  io.run_for(std::chrono::seconds(30));

  const forkipc::json expected = {{"echo", {{"hello", "cmake"}}}};
  std::cout << "forkipc " << FORKIPC_VERSION_STRING << ": the child answered " << reply
            << " and exited with " << code.value_or(-1) << "\n";
  return reply == expected && code == 0 ? 0 : 1;
}
