// received_descriptors: the descriptors a peer passed (SCM_RIGHTS), until a message claims them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "codec/receive_buffer.hpp"  // stream_span
#include "unique_fd.hpp"

namespace forkipc::detail {

/// Which message a passed descriptor belongs to, decided by where it came in the stream.
///
/// A sender passes descriptors with the first byte of the message that carries them (forkipc and
/// Node alike). On a Unix stream socket one read may join the bytes of several writes; the
/// descriptors it returns belong to a write whose bytes are in that read, usually its last. So a
/// descriptor is kept with the span of the read it came with, and only a message that overlaps
/// that span may take it. Once a message is done, the descriptors whose read ended within it or
/// before can belong to no later message: they are closed, and counted, so that the channel
/// reports them. A peer that passes descriptors with messages that take none (or more than the
/// message takes) thus costs nothing past the message, and never exhausts the descriptor table.
class received_descriptors {
 public:
  /// At most this many are held, waiting for their message; beyond it, a new one is closed at once
  /// (and counted). No message of forkipc's or Node's carries nearly as many.
  static constexpr std::size_t max_held = 256;

  /// fd came with the bytes of read.
  void add(stream_span read, unique_fd fd);
  /// The kernel closed descriptors of one read that did not fit its control buffer (MSG_CTRUNC).
  void add_truncated() noexcept { truncated_ = true; }
  /// n descriptors were closed unclaimed elsewhere (before they could be held): counted here, so
  /// that take_closed() reports them with the others.
  void count_closed(std::size_t n) noexcept { closed_ += n; }

  /// The oldest descriptor that came with bytes of message, or an empty one.
  unique_fd take(stream_span message);

  /// The message that ends at position end is done: closes every descriptor that came with bytes
  /// up to end and was not taken.
  void settle(std::uint64_t end);

  /// Descriptors closed unclaimed since the last call, and whether the kernel closed some too;
  /// starts counting anew.
  struct closed_count {
    std::size_t closed = 0;
    bool truncated = false;
    explicit operator bool() const noexcept { return closed > 0 || truncated; }
  };
  closed_count take_closed() noexcept;

  std::size_t size() const noexcept { return held_.size(); }

 private:
  struct held {
    stream_span read;
    unique_fd fd;
  };
  std::deque<held> held_;
  std::size_t closed_ = 0;
  bool truncated_ = false;
};

}  // namespace forkipc::detail
