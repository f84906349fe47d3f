// The shared-memory path of binary serialization: large binary values travel through a memory
// region both processes map, and only a small reference crosses the socket.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "codec/msgpack.hpp"
#include "unique_fd.hpp"

namespace forkipc::detail {

/// One mapping of a sealed memfd: a header the receiver writes its progress to, then the data.
///
/// Why memfd and not a named POSIX shared-memory object (Boost.Interprocess's
/// shared_memory_object): a named object exists in /dev/shm from its creation until someone
/// unlinks it, so a process SIGKILLed in between leaks it, whatever the protocol. A memfd has no
/// name at all: it is passed over the channel with SCM_RIGHTS (which handle passing needs
/// anyway), no other process can open it, and the kernel frees it with the last descriptor or
/// mapping, on every path. Sealing its size keeps a peer from truncating it under the other
/// side's reads (which would raise SIGBUS there).
class shared_region {
 public:
  /// A new region with at least `capacity` data bytes, mapped read-write; fd receives its
  /// descriptor (close-on-exec), to pass to the peer. Throws forkipc::error naming the reason.
  static shared_region create(std::size_t capacity, unique_fd& fd);

  /// Maps a region the peer passed. Returns nullopt, with why filled in, for a descriptor that
  /// is not a memfd sealed against shrinking, or too small to hold the header.
  static std::optional<shared_region> adopt(const unique_fd& fd, std::string& why);

  shared_region(shared_region&& other) noexcept;
  shared_region& operator=(shared_region&& other) noexcept;
  ~shared_region();

  std::span<std::uint8_t> data() const noexcept { return {base_ + header_size, size_ - header_size}; }

  /// The receiver's progress: every byte before this position (counted from the region's
  /// creation, across wrap-arounds) has been read and may be reused.
  std::uint64_t released() const noexcept;
  void release_to(std::uint64_t position) noexcept;

  static constexpr std::size_t header_size = 64;

 private:
  shared_region(std::uint8_t* base, std::size_t size) noexcept : base_(base), size_(size) {}

  std::uint8_t* base_ = nullptr;
  std::size_t size_ = 0;
};

/// The sending side: places large binary values in a ring buffer in the current region. Regions
/// are reused, not created per message. When the region is too small for a value, a new one
/// twice its size takes over. When a value does not fit because the peer has not read enough
/// yet, the sender waits for it, up to busy_wait plus the time to copy what is unread at 1 GB/s:
/// the peer is copying out at memory speed, and
/// this keeps a fast sender to its pace with bounded memory. If the peer still has not read
/// enough (it is busy elsewhere), a value of up to inline_limit bytes goes inline through the
/// socket, whose backpressure holds the sender back from there; a larger one (which the peer's
/// max_message_size might refuse inline) moves to a new region. Used inside one message's
/// encoding: begin(), encode, then commit() or rollback().
class shm_outbox final : public binary_spill {
 public:
  explicit shm_outbox(std::size_t threshold) noexcept : threshold_(threshold) {}

  std::size_t threshold() const noexcept override { return threshold_; }
  bool spill(std::span<const std::uint8_t> bytes, std::string& out) override;

  static constexpr std::size_t inline_limit = std::size_t{4} << 20;
  static constexpr std::chrono::milliseconds busy_wait{20};

  void begin() noexcept;
  /// The descriptors of the regions this message's encoding created, in order: they must reach
  /// the peer with the message's first byte.
  std::vector<unique_fd> commit() noexcept;
  /// Forgets what this message's encoding placed.
  void rollback() noexcept;

  /// Bytes placed that the peer has not read yet.
  std::size_t in_flight() const noexcept;

 private:
  std::size_t threshold_;
  std::optional<shared_region> region_;
  std::uint32_t region_id_ = 0;
  std::uint64_t head_ = 0;  // the next position to place bytes at

  // The message being encoded.
  std::uint32_t saved_id_ = 0;
  std::uint64_t saved_head_ = 0;
  std::vector<std::optional<shared_region>> replaced_;  // kept mapped until commit or rollback
  std::vector<unique_fd> new_fds_;
};

/// The receiving side: resolves references into bytes, mapping each new region the peer passed
/// (whose descriptor comes first in received_fds). At most max_message_size bytes are fetched per
/// message.
class shm_inbox final : public binary_fetch {
 public:
  shm_inbox(std::deque<unique_fd>& received_fds, std::size_t max_message_size) noexcept
      : received_fds_(received_fds), max_message_size_(max_message_size) {}

  void begin_message() noexcept override { fetched_ = 0; }
  std::optional<std::string> fetch(std::string_view reference, json::binary_t& out) override;

 private:
  std::deque<unique_fd>& received_fds_;
  std::size_t max_message_size_;
  std::optional<shared_region> region_;
  std::uint32_t region_id_ = 0;
  std::size_t fetched_ = 0;
};

}  // namespace forkipc::detail
