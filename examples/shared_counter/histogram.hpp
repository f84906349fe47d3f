// What shared_counter and counter_child both know: the types and names in the segment, and
// which bucket a value falls in.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/containers/vector.hpp>
#include <boost/interprocess/managed_external_buffer.hpp>

namespace histogram {

namespace bip = boost::interprocess;

// The values: a vector in the segment, with the segment's allocator (offset pointers, so each
// process may map the segment at its own address).
using value_allocator = bip::allocator<std::uint32_t, bip::managed_external_buffer::segment_manager>;
using values = bip::vector<std::uint32_t, value_allocator>;

// The histogram: an array of counters that every child adds to at the same time. Lock-free
// atomics, not a boost::interprocess::interprocess_mutex around plain counters: a child that
// dies (a crash, a SIGKILL, the OOM killer) while holding such a mutex leaves it locked for
// ever, and every other process then hangs in lock(). An atomic add is never held by anyone:
// a child that dies has added what it added, and the others go on.
using counter = std::atomic<std::uint64_t>;
static_assert(counter::is_always_lock_free, "an atomic shared between processes must not hide a lock");

inline constexpr const char* values_name = "values";
inline constexpr const char* counters_name = "histogram";
inline constexpr std::uint32_t value_range = 1u << 20;  // values are in [0, value_range)

inline std::size_t bucket_of(std::uint32_t value, std::size_t buckets) {
  return static_cast<std::size_t>(std::uint64_t{value} * buckets / value_range);
}

}  // namespace histogram
