// write_queue: the bytes waiting to be written to a channel, and who to tell when they are.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "unique_fd.hpp"

namespace forkipc::detail {

/// Messages are appended into large chunks, so that many small ones leave in one writev and cost
/// no allocation each; a completion callback is kept only for messages that have one.
class write_queue {
 public:
  using callback = std::function<void(std::error_code)>;

  /// Appends one message: encode(std::string&) appends its bytes to the string it is given. If
  /// encode throws, nothing is queued. on_written (may be empty) completes with the message.
  template <class Encode>
  void push(Encode&& encode, callback on_written) {
    std::string& chunk = chunk_for_append();
    const std::size_t before = chunk.size();
    try {
      encode(chunk);
    } catch (...) {
      chunk.resize(before);
      throw;
    }
    last_start_ = pushed_;
    pushed_ += chunk.size() - before;
    if (on_written) callbacks_.push_back({pushed_, std::move(on_written)});
  }

  /// Passes fd with the message pushed last: it leaves, by SCM_RIGHTS, with the message's first
  /// byte, and is closed once written (or dropped). Messages may carry several.
  void attach(unique_fd fd) { fds_.push_back({last_start_, std::move(fd)}); }

  /// Where the first unwritten byte is in the stream: how many bytes were written before it.
  std::uint64_t written() const noexcept { return written_; }

  /// Unwritten bytes.
  std::size_t size() const noexcept { return static_cast<std::size_t>(pushed_ - written_); }
  bool empty() const noexcept { return pushed_ == written_; }

  /// Describes the unwritten bytes, in order, in up to out.size() iovecs; returns how many. It
  /// stops before a later message that carries descriptors, so that they leave with its first
  /// byte: each write starts with the descriptors of fds_at_front().
  std::size_t gather(std::span<iovec> out) const noexcept;

  /// The descriptors to pass with the next write (those of the message it starts with).
  std::vector<int> fds_at_front() const;

  /// n more bytes were written: drops them (and closes the descriptors sent), and moves the callbacks of the messages now complete
  /// to completed, in order.
  void consume(std::size_t n, std::vector<callback>& completed);

  /// Drops every unwritten byte; moves every pending callback to dropped.
  void clear(std::vector<callback>& dropped);

 private:
  struct chunk {
    std::string bytes;
    std::size_t offset = 0;  // bytes before this were written
  };
  struct passed_fd {
    std::uint64_t at;  // where its message starts
    unique_fd fd;
  };
  struct pending_callback {
    std::uint64_t end;  // the message is written once written_ reaches this
    callback on_written;
  };

  std::string& chunk_for_append();

  std::deque<chunk> chunks_;
  std::string spare_;  // a written chunk's storage, kept for the next one
  std::deque<pending_callback> callbacks_;
  std::deque<passed_fd> fds_;
  std::uint64_t last_start_ = 0;
  std::uint64_t pushed_ = 0;
  std::uint64_t written_ = 0;
};

}  // namespace forkipc::detail
