// A sum_child that misbehaves on request, for the sum server's error paths. For {"n": K}:
// K = 1 crashes (abort), K = 2 never answers, K = 3 answers after 500 ms (first creating the
// file $ODD_SUM_CHILD_MARK, if set, so a test knows the request has reached it); any other
// message is answered as sum_child does.
#include <forkipc/forkipc.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <thread>

int main() {
  forkipc::serve([](const forkipc::json& message) -> forkipc::json {
    const std::int64_t n = message.is_object() && message.contains("n") ? message["n"].get<std::int64_t>() : 100000;
    if (n == 1) {
      const rlimit no_core{0, 0};
      ::setrlimit(RLIMIT_CORE, &no_core);
      std::abort();
    }
    if (n == 2) std::this_thread::sleep_for(std::chrono::hours(1));
    if (n == 3) {
      if (const char* mark = std::getenv("ODD_SUM_CHILD_MARK")) std::ofstream(mark) << "started\n";
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    std::int64_t sum = 0;
    for (std::int64_t i = 0; i < n; ++i) sum += i;
    return sum;
  });
}
