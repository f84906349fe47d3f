// stream_decoder: what every framing's decoder has, whatever its framing.
#pragma once

#include <cstddef>
#include <string_view>

#include "codec/receive_buffer.hpp"

namespace forkipc::detail {

/// The buffer a channel reads into, the limits, and where the message decoded last lay in the
/// stream. Each framing's decoder derives from it and adds next() and finish(); message_decoder
/// picks one at run time.
class stream_decoder {
 public:
  /// Where the socket reads into: prepare(n), then commit what was written.
  receive_buffer& buffer() noexcept { return buffer_; }
  /// Appends bytes to the stream (for tests and fuzzers).
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  /// Bytes held for a message not yet complete.
  std::size_t buffered() const noexcept { return buffer_.size(); }
  /// Bytes allocated for the buffer.
  std::size_t capacity() const noexcept { return buffer_.capacity(); }
  /// Where the message next() decoded last lay in the stream, its framing included.
  stream_span last_span() const noexcept { return last_span_; }

 protected:
  /// The buffer grows to at most buffer_limit plus one read.
  stream_decoder(std::size_t max_message_size, std::size_t max_nesting_depth, std::size_t buffer_limit) noexcept
      : max_message_size_(max_message_size), max_nesting_depth_(max_nesting_depth), buffer_(buffer_limit) {}
  ~stream_decoder() = default;

  std::size_t max_message_size_;
  std::size_t max_nesting_depth_;
  receive_buffer buffer_;
  stream_span last_span_;
};

}  // namespace forkipc::detail
