// A parent and its children build one histogram in shared memory. The parent puts a million
// values and an array of atomic counters in a forkipc::shared_segment, gives each child the
// segment (a descriptor sent with a message) and a slice of the values; every child adds its
// slice into the same counters at the same time; the parent then checks them against a count
// of its own, in one process. Usage:
//   shared_counter [children (default 4)] [values (default 1000000)]
// Prints the histogram and whether it matches; exits 0 when it does.
#include <forkipc/forkipc.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "histogram.hpp"

int main(int argc, char** argv) {
  const std::size_t children = argc > 1 ? std::stoul(argv[1]) : 4;
  const std::size_t count = argc > 2 ? std::stoul(argv[2]) : 1'000'000;
  const std::size_t buckets = 32;
  const std::string child_program =
      (std::filesystem::canonical("/proc/self/exe").parent_path() / "counter_child").string();

  // Everything in the segment is constructed here, before it is shared: Boost's allocator in a
  // managed_external_buffer takes no lock, so one process at a time may allocate.
  auto segment = forkipc::shared_segment::create(count * sizeof(std::uint32_t) + (1 << 20));
  auto& memory = segment.memory();
  auto* values = memory.construct<histogram::values>(histogram::values_name)(
      histogram::value_allocator(memory.get_segment_manager()));
  values->reserve(count);
  std::mt19937 random(2024);
  std::uniform_int_distribution<std::uint32_t> half(0, histogram::value_range / 2 - 1);
  for (std::size_t i = 0; i < count; ++i) values->push_back(half(random) + half(random));  // a triangle
  histogram::counter* counters = memory.construct<histogram::counter>(histogram::counters_name)[buckets](0);

  boost::asio::io_context io;
  std::size_t finished = 0;
  bool failed = false;
  std::vector<std::shared_ptr<forkipc::child_process>> workers;
  for (std::size_t k = 0; k < children; ++k) {
    auto child = forkipc::fork(io, child_program);
    child->on("message", [&, self = child.get()](const forkipc::json&) {
      self->disconnect();  // one job each: it exits once the channel closes
      ++finished;
    });
    child->on("exit", [&](std::optional<int> code, std::optional<int>) { failed |= code != 0; });
    // Each child gets its own descriptor of the segment, and the slice it counts.
    child->send({{"from", count * k / children}, {"to", count * (k + 1) / children}}, segment.share());
    workers.push_back(child);
  }
  io.run();  // until every child has ended

  // The same count in one process.
  std::vector<std::uint64_t> expected(buckets, 0);
  for (const std::uint32_t value : *values) ++expected[histogram::bucket_of(value, buckets)];

  const std::uint64_t tallest = *std::max_element(expected.begin(), expected.end());
  bool matches = finished == children && !failed;
  for (std::size_t b = 0; b < buckets; ++b) {
    const std::uint64_t shared = counters[b].load();
    matches &= shared == expected[b];
    std::cout << (b * histogram::value_range / buckets) << "\t" << shared << "\t"
              << std::string(shared * 50 / std::max<std::uint64_t>(tallest, 1), '#') << "\n";
  }
  std::cout << children << " children counted " << count << " values into " << buckets
            << " shared buckets; a single-process count " << (matches ? "matches" : "DIFFERS") << "\n";
  return matches ? 0 : 1;
}
