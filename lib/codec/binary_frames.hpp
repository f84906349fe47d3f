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
#include "codec/length_prefixed.hpp"
#include "codec/msgpack.hpp"

namespace forkipc::detail {

/// Appends message as one frame to out; large binary values go to spill (see write_msgpack).
/// Throws error(errc::unencodable_message), leaving out as it was.
void encode_binary_frame(const json& message, std::string& out, binary_spill* spill = nullptr,
                         std::size_t max_depth = channel_options{}.max_nesting_depth);

/// Appends bytes as one frame of raw bytes (send_bytes): the body is a single MessagePack
/// extension value of type raw_bytes_ext, which decodes to raw_bytes without any JSON value.
/// Throws error(errc::unencodable_message), leaving out as it was, past 4 GiB.
void encode_bytes_frame(std::span<const std::byte> bytes, std::string& out);

/// Splits a byte stream into frames (see length_prefixed_frames) and decodes each, in place in
/// its buffer.
///
/// A frame whose body is not valid MessagePack, or is nested more than max_nesting_depth levels
/// deep, decodes to an error, and the next frame decodes as usual: the length kept the stream in
/// step. A length over max_message_size decodes to an error and the decoder is broken() from
/// then on: the channel closes.
class binary_frame_decoder : public length_prefixed_frames {
 public:
  explicit binary_frame_decoder(std::size_t max_message_size, binary_fetch* fetch = nullptr,
                                std::size_t max_nesting_depth = channel_options{}.max_nesting_depth)
      : length_prefixed_frames(max_message_size, max_nesting_depth, UINT32_MAX, "binary"), fetch_(fetch) {}

  /// The next decoded frame, or nullopt when no complete frame is buffered (or broken()).
  std::optional<decoded> next();

 private:
  binary_fetch* fetch_;
};

}  // namespace forkipc::detail
