// shared_counter's child, on the blocking API: for each job ({"from", "to"} with the segment's
// descriptor), counts values[from, to) into the shared histogram and answers {"counted": n}.
#include <forkipc/forkipc.hpp>

#include <cstdint>
#include <iostream>

#include "histogram.hpp"

int main() {
  forkipc::sync::parent parent;
  while (auto job = parent.receive_with_handle()) {
    auto& [message, handle] = *job;
    // Opening checks that the descriptor is a forkipc segment; find() looks the objects up by
    // name (the parent constructed them all before sharing: finding needs no lock).
    auto segment = forkipc::shared_segment::open(std::move(handle));
    const auto* values = segment.memory().find<histogram::values>(histogram::values_name).first;
    const auto [counters, buckets] = segment.memory().find<histogram::counter>(histogram::counters_name);
    if (values == nullptr || counters == nullptr) {
      std::cerr << "counter_child: the segment has no values or no histogram\n";
      return 1;
    }
    const auto from = message["from"].get<std::size_t>();
    const auto to = message["to"].get<std::size_t>();
    for (std::size_t i = from; i < to; ++i)
      counters[histogram::bucket_of((*values)[i], buckets)].fetch_add(1, std::memory_order_relaxed);
    parent.send({{"counted", to - from}});
  }
}
