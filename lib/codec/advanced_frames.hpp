// Node's 'advanced' framing, without I/O: a 4-byte big-endian length, then V8's serialization of
// one value (its header, FF 0F, first), as Node's child_process writes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <forkipc/channel_options.hpp>
#include <forkipc/json.hpp>

#include "codec/decoded.hpp"
#include "codec/length_prefixed.hpp"
#include "codec/v8_value.hpp"

namespace forkipc::detail {

/// The longest body of an advanced frame: Node reads the length as a signed 32-bit number.
inline constexpr std::uint32_t longest_advanced_frame = INT32_MAX;

/// Appends message as one frame to out. Throws error(errc::unencodable_message), leaving out as
/// it was, for what write_v8_message refuses and for a frame of 2 GiB or more.
void encode_advanced_frame(const json& message, std::string& out,
                           std::size_t max_depth = channel_options{}.max_nesting_depth);

/// Splits a byte stream into frames (see length_prefixed_frames) and reads each with
/// read_v8_message, in place in its buffer.
///
/// A frame whose value V8's format does not allow, or that forkipc refuses (a cyclic value, a
/// value past max_nesting_depth, one that expands past four times max_message_size through
/// shared references or holes), decodes to an error that names what was wrong and where, and
/// the next frame decodes as usual. A length over max_message_size (or of 2 GiB and more)
/// decodes to an error and the decoder is broken() from then on: the channel closes.
class advanced_frame_decoder : public length_prefixed_frames {
 public:
  explicit advanced_frame_decoder(std::size_t max_message_size,
                                  std::size_t max_nesting_depth = channel_options{}.max_nesting_depth)
      : length_prefixed_frames(max_message_size, max_nesting_depth, longest_advanced_frame, "advanced"),
        limits_{max_nesting_depth, 4 * max_message_size} {}

  /// The next decoded frame, or nullopt when no complete frame is buffered (or broken()).
  std::optional<decoded> next();

  /// Takes back the vectors of message's large binary values (the message next() returned last,
  /// which nothing reads any more) for the next ones: see binary_spares.
  void recycle(json& message) noexcept { spares_.take_back_filled(message); }

 private:
  v8_read_limits limits_;
  binary_spares spares_;
};

}  // namespace forkipc::detail
