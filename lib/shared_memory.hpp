// The shared-memory path of binary serialization: large binary values travel through a memory
// ring both processes map, and only a small reference crosses the socket.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/interprocess/mapped_region.hpp>

#include "codec/binary_spares.hpp"
#include "codec/msgpack.hpp"
#include "transport/received_descriptors.hpp"
#include "unique_fd.hpp"

namespace forkipc::detail {

/// The ring a channel's sender streams large values through: one sealed memfd (shm/memfd.hpp
/// says why a memfd), mapped by both sides with Boost.Interprocess's mapped_region, with a header
/// of three positions and a doorbell, then the data. Positions count bytes from the ring's creation and only
/// grow; position p lives at offset p % capacity().
class shared_ring {
 public:
  /// A new ring of capacity data bytes; fd receives its descriptor (close-on-exec), to pass to
  /// the peer. Throws forkipc::error naming the reason.
  static shared_ring create(std::size_t capacity, unique_fd& fd);

  /// Maps a ring the peer passed. Returns nullopt, with why filled in, for a descriptor that is
  /// not a memfd sealed against shrinking and growing, or too small for a header and some data.
  static std::optional<shared_ring> adopt(const unique_fd& fd, std::string& why);

  std::size_t capacity() const noexcept { return region_.get_size() - header_size; }

  /// The sender's progress: every byte before it is in the ring (or, past abandoned(), in the
  /// value's overflow file).
  std::uint64_t written() const noexcept;
  void publish_written(std::uint64_t position) noexcept;
  /// The receiver's progress: every byte before it has been read, and its space may be reused.
  std::uint64_t released() const noexcept;
  void release_to(std::uint64_t position) noexcept;  // never moves it back
  /// Where the sender stopped writing a message's values to the ring; see shm_outbox.
  std::uint64_t abandoned() const noexcept;
  void abandon_at(std::uint64_t position) noexcept;

  /// The doorbell: every move of a position above rings it (a counter both map, and a futex
  /// wake when the other side sleeps on it). A waiter reads bell(), checks what it waits for,
  /// then sleeps until the bell moves past what it read, or for at most max.
  std::uint32_t bell() const noexcept;
  void sleep_until_rung(std::uint32_t seen, std::chrono::microseconds max) const noexcept;

  /// Copies bytes to (from) the ring at position, across its end if need be.
  void write(std::uint64_t position, std::span<const std::uint8_t> bytes) noexcept;
  void read(std::uint64_t position, std::size_t n, std::vector<std::uint8_t>& out) const;

  static constexpr std::size_t header_size = 64;

 private:
  explicit shared_ring(boost::interprocess::mapped_region region) noexcept : region_(std::move(region)) {}
  std::uint8_t* base() const noexcept { return static_cast<std::uint8_t*>(region_.get_address()); }
  std::uint64_t& word(std::size_t index) const noexcept;
  std::uint32_t& half_word(std::size_t index) const noexcept;
  void ring_bell() const noexcept;

  boost::interprocess::mapped_region region_;
};

/// The sending side: places large binary values in the channel's ring, which is created at the
/// first one and reused for the channel's life.
///
/// A value that fits in the ring's free space is copied in while the message is encoded. A
/// larger one is streamed: the message leaves first, and the sender then copies the value into
/// the ring as the receiver copies it out (stream()), so the ring stays small (8 MiB, most of it
/// in the CPU's cache) whatever the values' size, and both copies run at once. Such a value also
/// takes along an empty overflow file of its size: when the receiver makes no progress for
/// `patience` (it is busy elsewhere, or streaming a value to us at the same moment), the sender
/// writes the rest there, marks the ring abandoned at that position, and returns; the receiver
/// reads the rest from the file. Until the receiver has read past such a message, later values
/// go inline (up to inline_limit) or whole in a file of their own: that is the backpressure.
///
/// Used inside one message's encoding: begin(), encode, then commit() or rollback(); after
/// commit(), stream() once the message is on its way (or could not be sent whole).
class shm_outbox final : public binary_spill {
 public:
  explicit shm_outbox(std::size_t threshold) noexcept : threshold_(threshold) {}

  std::size_t threshold() const noexcept override { return threshold_; }
  bool spill(std::span<const std::uint8_t> bytes, std::string& out) override;

  static constexpr std::size_t ring_capacity = std::size_t{8} << 20;
  static constexpr std::size_t chunk_size = std::size_t{2} << 20;
  static constexpr std::size_t inline_limit = std::size_t{4} << 20;
  static constexpr std::chrono::milliseconds patience{20};

  void begin() noexcept;
  /// The descriptors the message's encoding created, in order: they must reach the peer with
  /// the message's first byte.
  std::vector<unique_fd> commit();
  /// Forgets what this message's encoding placed.
  void rollback() noexcept;

  /// true when the message committed last has values to stream.
  bool streaming() const noexcept { return !jobs_.empty(); }
  /// Streams them: sent says whether the message has left whole, and with it the peer's means to
  /// read them; if not, they all go to their overflow files at once. The values' bytes must be
  /// as they were at encoding. Throws forkipc::error if an overflow file cannot be written.
  void stream(bool sent);
  /// Forgets the values to stream: the message will never reach the peer.
  void discard_stream() noexcept;

  /// Bytes placed that the peer has not read yet.
  std::size_t in_flight() const noexcept;

 private:
  struct job {
    std::span<const std::uint8_t> bytes;
    std::uint64_t start;
    unique_fd overflow;
  };

  std::size_t free_space(std::uint64_t position) const noexcept;
  void abandon(std::size_t job_index, std::uint64_t position);

  std::size_t threshold_;
  std::optional<shared_ring> ring_;
  std::uint32_t ring_id_ = 0;
  std::uint64_t head_ = 0;            // the next position to place bytes at
  std::uint64_t backlog_until_ = 0;   // stream only once the receiver has read to here
  std::vector<job> jobs_;

  // The message being encoded.
  std::uint64_t saved_head_ = 0;
  std::uint32_t saved_ring_id_ = 0;
  std::vector<unique_fd> new_fds_;
};

/// The receiving side: resolves references into bytes, mapping the ring the peer passed (whose
/// descriptor comes first in received_fds). At most max_message_size bytes are fetched per
/// message. Waiting for a streamed value, it watches the socket given to watch(): a peer that
/// hangs up in the middle makes the value fail.
///
/// The bytes are copied into the value's own vector. A fresh vector of many MiB costs more than
/// the copy: glibc maps it anew, and the kernel faults in and zeroes each page as the copy first
/// touches it, then unmaps it all when the message is freed. So the vectors of a message the
/// listeners are done with come back through recycle(), and later values are copied into them:
/// their pages are there already.
class shm_inbox final : public binary_fetch {
 public:
  shm_inbox(received_descriptors& received_fds, std::size_t max_message_size) noexcept
      : received_fds_(received_fds), max_message_size_(max_message_size) {}

  void watch(int socket) noexcept { socket_ = socket; }

  void begin_message(stream_span message) noexcept override;
  std::optional<std::string> fetch(std::string_view reference, json::binary_t& out) override;
  std::optional<std::string> end_message() override { return std::exchange(refused_, std::nullopt); }

  /// Takes back the vectors of the binary values fetched for message, the last message decoded,
  /// now that nothing reads it any more (it is left with empty binary values).
  void recycle(json& message) noexcept;

 private:
  std::optional<std::string> read_streamed(std::uint64_t start, std::size_t size, const unique_fd* overflow,
                                           std::vector<std::uint8_t>& bytes);
  bool peer_gone() const noexcept;

  received_descriptors& received_fds_;
  std::size_t max_message_size_;
  int socket_ = -1;
  std::optional<shared_ring> ring_;
  std::uint32_t ring_id_ = 0;
  binary_spares spares_;

  // The message being decoded.
  stream_span message_;
  std::size_t fetched_bytes_ = 0;
  std::size_t fetched_values_ = 0;
  bool abandoned_ = false;  // its values from here on are in their overflow files
  std::optional<std::string> refused_;
};

}  // namespace forkipc::detail
