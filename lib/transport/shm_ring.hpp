// shm_rings: the byte rings of a shared-memory channel, one per direction, in one sealed memfd.
#pragma once

#include <sys/uio.h>

#include <boost/interprocess/mapped_region.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "unique_fd.hpp"

namespace forkipc::detail {

/// One end's view of the region a shared-memory channel's two processes map: a header, then a
/// single-producer single-consumer byte ring per direction. The parent writes ring 0 and reads
/// ring 1; the child the other way round. Nothing here makes a system call: copying bytes and
/// moving positions is the whole data path. Waiting (spinning, then sleeping on the socket) and
/// waking are byte_stream's.
///
/// A ring's positions count bytes from its creation and only grow: the producer's write
/// position and the consumer's read position each sit on a cache line of their own, so that
/// neither side's stores disturb the lines the other reads. Position p lives at p & (capacity-1).
///
/// The peer may be hostile: it can write anything anywhere in the region. So each end keeps its
/// own positions in this object and only publishes them to the region, never reads them back;
/// the peer's positions are checked against its own before any use (a write position behind
/// the reader or more than a ring ahead of it, a read position ahead of the writer), and a bad
/// one throws, which ends the channel. Offsets are masked, so no value reaches outside the ring.
class shm_rings {
 public:
  static constexpr std::size_t default_capacity = std::size_t{1} << 20;
  static constexpr std::size_t header_size = 4096;

  /// A new region with two rings of capacity bytes (a power of two); fd receives its descriptor
  /// (a memfd sealed against resizing, close-on-exec), for the child. This is the parent's end.
  /// Throws forkipc::error saying why.
  static shm_rings create(std::size_t capacity, unique_fd& fd);

  /// The child's end of the region the parent passed. Throws forkipc::error when fd is not a
  /// sealed memfd laid out as create() makes it.
  static shm_rings open(const unique_fd& fd);

  shm_rings(shm_rings&&) noexcept = default;
  shm_rings& operator=(shm_rings&&) noexcept = default;

  std::size_t capacity() const noexcept { return capacity_; }

  // ---- producing (the ring this end writes) ----

  /// Copies as much of bytes as fits and publishes it; returns how many bytes were copied.
  /// Throws forkipc::error when the peer's read position is impossible.
  std::size_t write(std::span<const iovec> bytes);
  /// The stream position of the next byte written.
  std::uint64_t written() const noexcept { return write_position_; }
  /// The consumer is asleep (it said so, and has not been woken since): true once, for the
  /// producer that must then wake it.
  bool take_consumer_sleeping() noexcept;
  /// Nothing fits: the producer waits until the consumer wakes it. Returns true when space
  /// came meanwhile (then there is no need to wait).
  bool wait_for_space();
  /// Records (descriptors passed over the socket) sent for this ring's bytes: counted, so that
  /// the consumer looks at the socket only when one is due.
  void count_record_sent() noexcept;

  // ---- consuming (the ring this end reads) ----

  /// Bytes published and not read yet. Throws forkipc::error when the peer's write position is
  /// impossible.
  std::size_t readable() const;
  /// Copies up to out.size() published bytes to out and releases their space; returns how many.
  std::size_t read(std::span<char> out);
  /// The stream position of the next byte read.
  std::uint64_t read_position() const noexcept { return read_position_; }
  /// The producer waits for space: true once, for the consumer that must then wake it.
  bool take_producer_waiting() noexcept;
  /// About to sleep: from now on the producer wakes this end. Returns true when bytes came
  /// meanwhile (then there is no need to sleep); the flag is set either way.
  bool prepare_to_sleep();
  /// Awake again (woken, or bytes came): the producer need not wake it.
  void awake() noexcept;
  /// Whether the peer counted records this end has not seen; marks them seen.
  bool take_records_due() noexcept;

 private:
  struct ring_view {
    std::uint64_t* write_position;  // the producer's line
    std::uint32_t* producer_waiting;
    std::uint64_t* records_sent;
    std::uint64_t* read_position;  // the consumer's line
    std::uint32_t* consumer_sleeping;
    char* data;
  };

  shm_rings(boost::interprocess::mapped_region region, std::size_t capacity, bool parent_end);

  boost::interprocess::mapped_region region_;
  std::size_t capacity_ = 0;
  ring_view out_{}, in_{};
  // This end's own positions: the truth, whatever the region says.
  std::uint64_t write_position_ = 0;
  std::uint64_t peer_read_position_ = 0;  // the last one read from the region, for free space
  std::uint64_t read_position_ = 0;
  std::uint64_t records_seen_ = 0;
};

}  // namespace forkipc::detail
