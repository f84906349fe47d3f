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

#include "codec/binary_spares.hpp"
#include "codec/msgpack.hpp"
#include "shm/byte_ring.hpp"
#include "transport/received_descriptors.hpp"
#include "unique_fd.hpp"

namespace forkipc::detail {

/// The ring a channel's sender streams large values through: one shm::byte_ring in a region of
/// its own, created at the sender's first large value and passed with it, used by position
/// (values are placed at encoding and streamed later) and woken by its doorbell, since both sides wait
/// on it outside their event loops. The producer's note() says where it gave up on the ring for
/// a value (see shm_outbox); not_abandoned while it has not.
struct value_ring {
  shm::ring_region region;
  shm::byte_ring ring;

  static constexpr std::uint64_t not_abandoned = UINT64_MAX;
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
  std::optional<value_ring> ring_;
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
  std::optional<value_ring> ring_;
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
