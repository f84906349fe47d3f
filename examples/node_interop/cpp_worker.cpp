// A C++ worker for a Node parent (drive_cpp.js): answers each request {"id": k, "sum_below": n}
// with {"id": k, "sum": 0 + 1 + ... + (n - 1)}, the seed's computation, until Node disconnects;
// then it exits 0. Node may start it with fork() (execPath: this program) or with spawn() and an
// 'ipc' entry in stdio: forkipc finds the channel through NODE_CHANNEL_FD either way.
#include <forkipc/forkipc.hpp>

#include <cstdint>
#include <iostream>

namespace {

forkipc::json answer(const forkipc::json& request) {
  try {
    const auto n = request.at("sum_below").get<std::int64_t>();
    std::int64_t sum = 0;
    for (std::int64_t i = 0; i < n; ++i) sum += i;
    return {{"id", request.at("id")}, {"sum", sum}};
  } catch (const forkipc::json::exception& e) {
    return {{"error", "cannot answer " + request.dump() + ": " + e.what()}};
  }
}

}  // namespace

int main() {
  try {
    forkipc::sync::parent parent;  // the channel Node started this process with
    while (auto request = parent.receive()) parent.send(answer(*request));
  } catch (const forkipc::error& e) {  // not started by a parent, or asked for a serialization it does not speak
    std::cerr << "cpp_worker: " << e.what() << "\n";
    return 1;
  }
}
