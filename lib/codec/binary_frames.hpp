// forkipc's 'binary' framing, without I/O: a 4-byte big-endian length, then that many bytes of
// MessagePack.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <forkipc/channel_options.hpp>
#include <forkipc/json.hpp>

#include "codec/decoded.hpp"
#include "codec/msgpack.hpp"
#include "codec/stream_decoder.hpp"

namespace forkipc::detail {

/// Appends message as one frame to out; large binary values go to spill (see write_msgpack).
/// Throws error(errc::unencodable_message), leaving out as it was.
void encode_binary_frame(const json& message, std::string& out, binary_spill* spill = nullptr,
                         std::size_t max_depth = channel_options{}.max_nesting_depth);

/// Appends bytes as one frame of raw bytes (send_bytes): the body is a single MessagePack
/// extension value of type raw_bytes_ext, which decodes to raw_bytes without any JSON value.
/// Throws error(errc::unencodable_message), leaving out as it was, past 4 GiB.
void encode_bytes_frame(std::span<const std::byte> bytes, std::string& out);

/// Splits a byte stream into frames and decodes each, in place in its buffer.
///
/// A frame whose body is not valid MessagePack, or is nested more than max_nesting_depth levels
/// deep, decodes to an error, and the next frame decodes as
/// usual: the length kept the stream in step. A length over max_message_size cannot be skipped
/// safely (a peer that lies about one length may lie about the next), so it decodes to an error
/// and the decoder is broken() from then on: the channel closes. The decoder never holds more
/// than one frame of at most max_message_size bytes plus one read.
class binary_frame_decoder : public stream_decoder {
 public:
  explicit binary_frame_decoder(std::size_t max_message_size, binary_fetch* fetch = nullptr,
                                std::size_t max_nesting_depth = channel_options{}.max_nesting_depth) noexcept
      : stream_decoder(max_message_size, max_nesting_depth, max_message_size + 4),  // a length, then a body
        fetch_(fetch) {}

  /// The next decoded frame, or nullopt when no complete frame is buffered (or broken()).
  std::optional<decoded> next();

  /// At the end of the stream: an error if it ended inside a frame.
  std::optional<error> finish();

  /// true after a frame too long to skip: nothing more can be decoded.
  bool broken() const noexcept { return broken_; }

 private:
  binary_fetch* fetch_;
  bool broken_ = false;
};

/// A hexadecimal rendering of the start of bytes, for error messages.
std::string hex_excerpt(std::string_view bytes, std::size_t limit = 16);

}  // namespace forkipc::detail
