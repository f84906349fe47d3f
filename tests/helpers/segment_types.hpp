// The types the segments suite and its helper place in a forkipc::shared_segment: both sides
// name the same ones, as find<T>(name) must.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <system_error>

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

// The robust mutex of docs/shared-segments.md: a process-shared pthread mutex whose next
// locker learns that its holder died, instead of waiting for ever.
class robust_mutex {
 public:
  robust_mutex() {
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    const int failed = pthread_mutex_init(&native_, &attributes);
    pthread_mutexattr_destroy(&attributes);
    if (failed != 0) throw std::system_error(failed, std::system_category(), "pthread_mutex_init");
  }
  robust_mutex(const robust_mutex&) = delete;
  robust_mutex& operator=(const robust_mutex&) = delete;

  /// Locks; returns false when the previous holder died holding it: the lock is ours, but what
  /// it guards may be half-updated, to check or repair before unlock().
  bool lock() { return locked(pthread_mutex_lock(&native_)).value(); }
  /// As lock(), without waiting: nullopt when another (live) holder has it.
  std::optional<bool> try_lock() { return locked(pthread_mutex_trylock(&native_)); }
  void unlock() { pthread_mutex_unlock(&native_); }

 private:
  std::optional<bool> locked(int result) {
    if (result == EBUSY) return std::nullopt;
    if (result == EOWNERDEAD) {
      pthread_mutex_consistent(&native_);  // usable again once unlocked
      return false;
    }
    if (result != 0) throw std::system_error(result, std::system_category(), "pthread_mutex_lock");
    return true;
  }

  pthread_mutex_t native_;
};

}  // namespace segment_types
