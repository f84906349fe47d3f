// The sum server's child: sums 0..n-1 for each message from its parent.
//
// It speaks both protocols forkipc::serve() answers: a pool's request envelope, and the seed's
// plain messages, so the seed's own Node server can use it as its child.js through Node's
// execPath option. A message {"n": K} sums 0..K-1; any other message (the seed sends the string
// "开始计算", "start computing") sums 0..99999, which is 4999950000.
#include <forkipc/forkipc.hpp>

#include <cstdint>
#include <iostream>
#include <stdexcept>

namespace {

constexpr std::int64_t default_count = 10 * 10000;  // as the seed's sum(): i < 10 * 10000
constexpr std::int64_t largest_count = 1'000'000'000;

std::int64_t sum_below(std::int64_t n) {
  std::int64_t result = 0;
  for (std::int64_t i = 0; i < n; ++i) result += i;
  return result;
}

}  // namespace

int main() {
  if (!forkipc::has_parent()) {
    std::cerr << "sum_child: sum_server starts this program as its child; it is not run by hand\n";
    return 2;
  }
  forkipc::serve([](const forkipc::json& message) -> forkipc::json {
    if (!message.is_object() || !message.contains("n")) return sum_below(default_count);
    const forkipc::json& n = message["n"];
    if (!n.is_number_integer() || n.get<std::int64_t>() < 0 || n.get<std::int64_t>() > largest_count)
      throw std::invalid_argument("n must be a whole number from 0 to 1000000000");
    return sum_below(n.get<std::int64_t>());
  });
}
