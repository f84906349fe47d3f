// A C++ parent driving a Node worker (node_worker.js, which the build copies beside this
// program) with forkipc::fork and exec_path "node". After building (scripts/build.sh):
//   build/examples/node_interop/drive_node
// It sends three requests, prints the answers and disconnects; the worker then exits 0.
#include <forkipc/forkipc.hpp>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <vector>

int main(int, char** argv) {
  boost::asio::io_context io;
  const auto script = std::filesystem::path(argv[0]).parent_path() / "node_worker.js";
  auto worker = forkipc::fork(io, script.string(), {}, {.exec_path = "node"});

  const std::vector<std::int64_t> requests{10, 100000, 1000000};
  std::size_t answered = 0;
  int status = 0;
  worker->on("message", [&](const forkipc::json& reply) {
    std::cout << "Node worker answered " << reply.dump() << "\n";
    const std::int64_t n = requests.at(reply.at("id").get<std::size_t>());
    if (reply.at("sum") != n * (n - 1) / 2) status = 1;
    if (++answered == requests.size()) worker->disconnect();  // the worker sees the end and exits
  });
  worker->on("exit", [&](std::optional<int> code, std::optional<int> signal) {
    if (code) std::cout << "Node worker exited with code " << *code << "\n";
    if (signal) std::cout << "Node worker ended by signal " << *signal << "\n";
    if (code != 0 || answered < requests.size()) status = 1;
  });
  worker->on("error", [&](const forkipc::error& e) {
    std::cerr << "error: " << e.what() << "\n";
    status = 1;
  });

  for (std::size_t id = 0; id < requests.size(); ++id)
    worker->send({{"id", id}, {"sum_below", requests[id]}});
  io.run();  // returns once the worker has exited and its channel is closed
  return status;
}
