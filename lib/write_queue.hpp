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
    pushed_ += chunk.size() - before;
    if (on_written) callbacks_.push_back({pushed_, std::move(on_written)});
  }

  /// Unwritten bytes.
  std::size_t size() const noexcept { return static_cast<std::size_t>(pushed_ - written_); }
  bool empty() const noexcept { return pushed_ == written_; }

  /// Describes the unwritten bytes, in order, in up to out.size() iovecs; returns how many.
  std::size_t gather(std::span<iovec> out) const noexcept;

  /// n more bytes were written: drops them, and moves the callbacks of the messages now complete
  /// to completed, in order.
  void consume(std::size_t n, std::vector<callback>& completed);

  /// Drops every unwritten byte; moves every pending callback to dropped.
  void clear(std::vector<callback>& dropped);

 private:
  struct chunk {
    std::string bytes;
    std::size_t offset = 0;  // bytes before this were written
  };
  struct pending_callback {
    std::uint64_t end;  // the message is written once written_ reaches this
    callback on_written;
  };

  std::string& chunk_for_append();

  std::deque<chunk> chunks_;
  std::string spare_;  // a written chunk's storage, kept for the next one
  std::deque<pending_callback> callbacks_;
  std::uint64_t pushed_ = 0;
  std::uint64_t written_ = 0;
};

}  // namespace forkipc::detail
