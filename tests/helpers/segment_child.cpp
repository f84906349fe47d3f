// A child that works on the shared segments its parent passes; argv[1] says which API it uses:
// "async" (forkipc::parent and an io_context) or "sync" (forkipc::sync::parent). Commands:
//   {"do": "sum", "vector": V, "result": R} + segment
//        sums the int_vector named V, stores the sum in the std::int64_t named R (which the
//        parent constructed); answers {"sum": the sum}
//   {"do": "hold"} + segment
//        keeps the segment, locks the interprocess_mutex named "lock" and the robust_mutex
//        named "robust", adds 1 to the counter "holders"; answers {"holding": true, "maps":
//        its /proc/self/maps lines of the segment}, and goes on holding them (until killed)
//   {"do": "count", "counter": C, "times": N} + segment
//        adds 1 to the counter named C, N times; answers {"counted": N}
//   {"do": "make", "value": V}
//        creates a segment holding the std::int64_t "answer" = V; answers {"made": true} with it
//   anything else
//        answers {"fd": the descriptor that came with it, or -1}
// A command that fails answers {"error": what()}.
#include <forkipc/forkipc.hpp>

#include <fstream>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "segment_types.hpp"

namespace {

using forkipc::json;
using namespace segment_types;

std::vector<forkipc::shared_segment> held;  // segments kept by "hold"

struct reply {
  json message;
  forkipc::handle passed;
};

json segment_maps() {
  json lines = json::array();
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    // A memfd's name on the linux backend, an unlinked shm_open object's on the posix one.
    if (line.find("forkipc-segment") != std::string::npos || line.find("/dev/shm/fipc-segment") != std::string::npos)
      lines.push_back(line);
  return lines;
}

reply answer(const json& m, forkipc::handle passed) {
  const std::string command = m.is_object() ? m.value("do", "") : "";
  try {
    if (command == "sum") {
      auto segment = forkipc::shared_segment::open(std::move(passed));
      auto& memory = segment.memory();
      const int_vector* numbers = memory.find<int_vector>(m["vector"].get<std::string>().c_str()).first;
      auto* result = memory.find<std::int64_t>(m["result"].get<std::string>().c_str()).first;
      if (numbers == nullptr || result == nullptr) return {json{{"error", "not found in the segment"}}, forkipc::handle()};
      *result = std::accumulate(numbers->begin(), numbers->end(), std::int64_t{0});
      return {json{{"sum", *result}}, forkipc::handle()};
    }
    if (command == "hold") {
      auto& segment = held.emplace_back(forkipc::shared_segment::open(std::move(passed)));
      segment.memory().find<bip::interprocess_mutex>("lock").first->lock();
      segment.memory().find<robust_mutex>("robust").first->lock();
      segment.memory().find<counter>("holders").first->fetch_add(1);
      return {json{{"holding", true}, {"maps", segment_maps()}}, forkipc::handle()};
    }
    if (command == "count") {
      auto segment = forkipc::shared_segment::open(std::move(passed));
      auto* value = segment.memory().find<counter>(m["counter"].get<std::string>().c_str()).first;
      const auto times = m["times"].get<std::int64_t>();
      for (std::int64_t i = 0; i < times; ++i) value->fetch_add(1, std::memory_order_relaxed);
      return {json{{"counted", times}}, forkipc::handle()};
    }
    if (command == "make") {
      auto segment = forkipc::shared_segment::create(1 << 16);
      segment.memory().construct<std::int64_t>("answer")(m["value"].get<std::int64_t>());
      return {json{{"made", true}}, segment.share()};
    }
    return {json{{"fd", passed.fd()}}, forkipc::handle()};
  } catch (const std::exception& e) {
    return {json{{"error", e.what()}}, forkipc::handle()};
  }
}

void run_async() {
  boost::asio::io_context io;
  auto parent = forkipc::parent(io);
  parent->on("message", [&](const json& m, forkipc::handle passed) {
    reply r = answer(m, std::move(passed));
    parent->send(r.message, std::move(r.passed));
  });
  io.run();
}

void run_sync() {
  forkipc::sync::parent parent;
  try {
    while (auto received = parent.receive_with_handle()) {
      reply r = answer(received->first, std::move(received->second));
      parent.send(r.message, std::move(r.passed));
    }
  } catch (const forkipc::error& e) {
    if (e.code() != forkipc::errc::channel_closed) throw;  // the parent left while we answered
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "sync") {
    run_sync();
  } else {
    run_async();
  }
}
