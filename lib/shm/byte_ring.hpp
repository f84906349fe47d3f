// byte_ring: a single-producer single-consumer byte ring in memory two processes map, and
// ring_region, the shared file (a sealed memfd on Linux) that holds one or more of them.
#pragma once

#include <sys/uio.h>

#include <boost/interprocess/mapped_region.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "unique_fd.hpp"

namespace forkipc::detail::shm {

/// How the end that waits is woken when the other moves a position.
enum class wake_up {
  /// By the caller: the ring only says when the other end asked to be woken
  /// (take_consumer_sleeping, take_producer_waiting), and the caller wakes it its own way: the
  /// shared-memory transport sends a byte on the socket its event loop watches anyway.
  by_caller,
  /// By the ring: each move rings a doorbell word both map and wakes an end that sleeps on it
  /// in sleep_for_producer() or sleep_for_consumer() (shm/platform.hpp's doorbell: a futex on
  /// Linux). For waits outside an event loop (the large values of binary serialization).
  doorbell,
};

/// One ring's view: a producer line and a consumer line (each end writes only its own, on a
/// cache line of its own, so that neither side's stores disturb what the other reads), then
/// capacity bytes of data (a power of two). Positions count bytes from the ring's creation and
/// only grow; position p lives at offset p & (capacity - 1), so no position, however wrong,
/// reaches outside the ring.
///
/// Two ways to use it, one layout:
/// - as a stream (the shared-memory transport): write() copies what fits at the producer's own
///   position and publishes it; read() copies what is published from the consumer's own
///   position and releases it. Each end keeps its positions here and only publishes them to
///   the region, never reads them back, and checks the other's before any use: a position a
///   peer could not have published throws forkipc::error (errc::malformed_message).
/// - by position (large values placed at encoding, streamed later): copy_in() and copy_out() at
///   a position the caller chose, publish() and release_to() to move the two positions, note()
///   for one more word the producer publishes (where it gave up on the ring). The caller checks
///   positions against its protocol; the ring only keeps them inside its bytes.
///
/// Waiting: an end about to sleep says so in its line, then looks once more; the other end,
/// having moved its position, looks at that flag and wakes it (wake_up says how). One of the
/// two always sees the other.
class byte_ring {
 public:
  /// A ring's two lines, inside the region's header.
  static constexpr std::size_t lines_size = 128;

  /// header: the ring's two lines; data: its bytes. Both stay mapped by the ring_region.
  byte_ring(char* header, char* data, std::size_t capacity, wake_up how) noexcept;
  /// No ring: for a member set later.
  byte_ring() = default;

  std::size_t capacity() const noexcept { return capacity_; }

  // ---- the producer, as a stream ----

  /// Copies as much of bytes as fits at written() and publishes it; returns how many bytes were
  /// copied. Throws forkipc::error when the consumer's position is impossible.
  std::size_t write(std::span<const iovec> bytes);
  /// The stream position of the next byte written (this end's own count).
  std::uint64_t written() const noexcept { return write_position_; }
  /// Nothing fits: the producer is about to wait until the consumer wakes it. Returns true when
  /// space came meanwhile (then there is no need to wait).
  bool prepare_to_wait_for_space();

  // ---- the consumer, as a stream ----

  /// Bytes published and not read yet. Throws forkipc::error when the producer's position is
  /// impossible.
  std::size_t readable() const;
  /// Copies up to out.size() published bytes to out and releases their space; returns how many.
  std::size_t read(std::span<char> out);
  /// The stream position of the next byte read (this end's own count).
  std::uint64_t read_position() const noexcept { return read_position_; }
  /// About to sleep: from now on the producer wakes this end. Returns true when bytes came
  /// meanwhile (then there is no need to sleep); the flag is set either way: awake() clears it.
  bool prepare_to_sleep();
  void awake() noexcept;

  // ---- by position ----

  /// Copies bytes into the ring at position, across its end if need be. Not visible to the
  /// consumer before publish() passes them.
  void copy_in(std::uint64_t position, std::span<const std::uint8_t> bytes) noexcept;
  /// Appends n bytes of the ring from position to out.
  void copy_out(std::uint64_t position, std::size_t n, std::vector<std::uint8_t>& out) const;
  /// The producer: every byte before position is in the ring (or, for the caller's protocol,
  /// elsewhere). Wakes a sleeping consumer (wake_up::doorbell).
  void publish(std::uint64_t position) noexcept;
  /// The producer's position, as the region says.
  std::uint64_t published() const noexcept;
  /// The consumer: every byte before position was read, and its space may be reused; never
  /// moves it back. Wakes a waiting producer (wake_up::doorbell).
  void release_to(std::uint64_t position) noexcept;
  /// The consumer's position, as the region says.
  std::uint64_t released() const noexcept;
  /// A word of the producer's line for its protocol (the transport counts its records in it,
  /// the large values mark where the ring was given up); setting it wakes as publish() does.
  std::uint64_t note() const noexcept;
  void set_note(std::uint64_t value) noexcept;
  /// Adds one to note(), without waking anyone.
  void count_note() noexcept;

  // ---- waking ----

  /// The consumer said it sleeps (and has not been woken since): true once, for the producer
  /// that must then wake it (wake_up::by_caller).
  bool take_consumer_sleeping() noexcept;
  /// The producer said it waits for space: true once, for the consumer that must then wake it.
  bool take_producer_waiting() noexcept;
  /// wake_up::doorbell: the producer's (consumer's) doorbell, to read before looking at what one
  /// waits for; then sleep_for_producer (consumer) sleeps until the bell moved past seen, or
  /// for at most max. A bell the peer wrote anything to only ends a wait early or at max.
  std::uint32_t producer_bell() const noexcept;
  std::uint32_t consumer_bell() const noexcept;
  void sleep_for_producer(std::uint32_t seen, std::chrono::microseconds max) noexcept;
  void sleep_for_consumer(std::uint32_t seen, std::chrono::microseconds max) noexcept;

 private:
  struct line {
    std::uint64_t* position;
    std::uint32_t* bell;
    std::uint32_t* waiting;  // the producer waits for space / the consumer sleeps
    std::uint64_t* note;
  };

  void ring(const line& moved, std::uint32_t* waiter_flag) noexcept;

  line producer_{}, consumer_{};
  char* data_ = nullptr;
  std::size_t capacity_ = 0;
  wake_up wake_up_ = wake_up::by_caller;
  // This end's own positions: the truth, whatever the region says.
  std::uint64_t write_position_ = 0;
  std::uint64_t peer_read_position_ = 0;  // the last one read from the region, for free space
  std::uint64_t read_position_ = 0;
};

/// A shared file holding count byte_rings of one capacity: a header page (forkipc's mark, a
/// version, the count and capacity, each ring's lines), then the rings' data. The file has no
/// name (shm/platform.hpp says why), is sealed against resizing where the system can, and is mapped with
/// Boost.Interprocess's mapped_region, populated at once.
class ring_region {
 public:
  static constexpr std::size_t header_size = 4096;

  /// A new region; fd receives its descriptor (close-on-exec), for the peer. name shows in
  /// /proc/PID/fd. Throws std::invalid_argument for a capacity that is not a power of two from
  /// 4 KiB to 1 GiB, forkipc::error naming the reason when the memory cannot be had.
  static ring_region create(const char* name, std::size_t count, std::size_t capacity, unique_fd& fd);

  /// The region the peer passed: nullopt, with why filled in, when fd is not a shared file (a sealed memfd on Linux) laid
  /// out as create() makes it with count rings.
  static std::optional<ring_region> open(const unique_fd& fd, std::size_t count, std::string& why);

  /// Made here (by create), not received (by open).
  bool created_here() const noexcept { return created_here_; }
  std::size_t capacity() const noexcept { return capacity_; }

  /// A view of ring index (0 <= index < count), valid while this region lives.
  byte_ring ring(std::size_t index, wake_up how) noexcept;

 private:
  ring_region(boost::interprocess::mapped_region region, std::size_t capacity, bool created_here) noexcept
      : region_(std::move(region)), capacity_(capacity), created_here_(created_here) {}

  boost::interprocess::mapped_region region_;
  std::size_t capacity_ = 0;
  bool created_here_ = false;
};

}  // namespace forkipc::detail::shm
