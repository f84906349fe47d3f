// A pool worker on forkipc::serve. Requests:
//   {"op": "echo", "value": x}   answers x
//   {"op": "pid"}                answers its pid
//   {"op": "sleep", "ms": N}     sleeps N ms, then answers its pid
//   {"op": "throw"}              throws std::runtime_error("asked to throw")
//   {"op": "exit", "code": N}    exits with N, answering nothing
#include <forkipc/forkipc.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

int main() {
  forkipc::serve([](const forkipc::json& request) -> forkipc::json {
    const std::string op = request.at("op");
    if (op == "echo") return request.at("value");
    if (op == "pid") return ::getpid();
    if (op == "sleep") {
      std::this_thread::sleep_for(std::chrono::milliseconds(request.at("ms").get<int>()));
      return ::getpid();
    }
    if (op == "throw") throw std::runtime_error("asked to throw");
    if (op == "exit") std::exit(request.at("code").get<int>());
    throw std::invalid_argument("unknown op " + op);
  });
}
