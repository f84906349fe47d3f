// receive_buffer: bytes read from a channel and not yet decoded.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace forkipc::detail {

/// A range of stream positions, [begin, end): bytes counted from the stream's first.
struct stream_span {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

/// A growable byte buffer that the socket reads straight into (prepare, then commit what was
/// written) and the decoders read in place (data, then consume what was decoded). Unconsumed
/// bytes move to the front only when room is needed, so each byte is copied at most once more.
class receive_buffer {
 public:
  /// The storage doubles as it grows, for linear time, but never past growth_limit plus one
  /// prepare()'s size: a peer's over-long message must not cost twice the limit.
  explicit receive_buffer(std::size_t growth_limit) noexcept : growth_limit_(growth_limit) {}

  /// At least `size` writable bytes after the data.
  std::span<char> prepare(std::size_t size) {
    if (capacity_ - end_ < size && begin_ > 0) {  // make room by moving the data down
      std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (capacity_ - end_ < size) {
      const std::size_t capacity =
          std::max(end_ + size, std::min(capacity_ * 2, growth_limit_ + size));
      // Left uninitialized (make_unique_for_overwrite, which libc++ before 16 lacks).
      std::unique_ptr<char[]> grown(new char[capacity]);
      if (end_ > 0) std::memcpy(grown.get(), buffer_.get(), end_);
      buffer_ = std::move(grown);
      capacity_ = capacity;
    }
    return {buffer_.get() + end_, capacity_ - end_};
  }

  /// Adds the first n bytes of the last prepare()'s span to the data.
  void commit(std::size_t n) noexcept { end_ += n; }

  /// prepare + copy + commit.
  void append(std::string_view bytes) {
    if (bytes.empty()) return;
    std::memcpy(prepare(bytes.size()).data(), bytes.data(), bytes.size());
    commit(bytes.size());
  }

  /// The bytes not consumed yet.
  std::string_view data() const noexcept { return {buffer_.get() + begin_, end_ - begin_}; }
  std::size_t size() const noexcept { return end_ - begin_; }
  /// Bytes allocated.
  std::size_t capacity() const noexcept { return capacity_; }

  /// Where data() starts in the stream: how many bytes were consumed or cleared before it.
  std::uint64_t position() const noexcept { return position_; }
  /// Where the next byte committed goes in the stream.
  std::uint64_t end_position() const noexcept { return position_ + size(); }

  /// Drops the first n bytes of data().
  void consume(std::size_t n) noexcept {
    begin_ += n;
    position_ += n;
    if (begin_ == end_) begin_ = end_ = 0;  // the storage is reused from its start
  }

  /// Drops every byte of data().
  void clear() noexcept { consume(size()); }

 private:
  std::size_t growth_limit_;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::uint64_t position_ = 0;
};

}  // namespace forkipc::detail
