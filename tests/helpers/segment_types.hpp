// The types the segments suite and its helper place in a forkipc::shared_segment: both sides
// name the same ones, as find<T>(name) must.
#pragma once

#include <atomic>
#include <cstdint>

#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/containers/vector.hpp>
#include <boost/interprocess/managed_external_buffer.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>

namespace segment_types {

namespace bip = boost::interprocess;

using int_allocator = bip::allocator<int, bip::managed_external_buffer::segment_manager>;
using int_vector = bip::vector<int, int_allocator>;
using counter = std::atomic<std::int64_t>;
static_assert(counter::is_always_lock_free, "a counter shared between processes must not hide a lock");

}  // namespace segment_types
