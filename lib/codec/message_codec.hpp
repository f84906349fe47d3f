// The framing of a channel, chosen at run time: json lines, binary frames or advanced frames.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <variant>

#include <forkipc/serialization.hpp>

#include "codec/advanced_frames.hpp"
#include "codec/binary_frames.hpp"
#include "codec/json_lines.hpp"

namespace forkipc::detail {

/// Appends message, framed as mode says, to out. spill takes large binary values in binary mode
/// (json mode has no binary values: see encode_json_line; advanced mode writes them inline).
/// Throws error(errc::unencodable_message), leaving out as it was.
inline void encode_message(serialization mode, const json& message, std::string& out,
                           binary_spill* spill = nullptr,
                           std::size_t max_depth = channel_options{}.max_nesting_depth) {
  switch (mode) {
    case serialization::binary: return encode_binary_frame(message, out, spill, max_depth);
    case serialization::advanced: return encode_advanced_frame(message, out, max_depth);
    case serialization::json: break;
  }
  encode_json_line(message, out, max_depth);
}

/// json_line_decoder, binary_frame_decoder or advanced_frame_decoder, as the channel's
/// serialization says.
class message_decoder {
 public:
  message_decoder(serialization mode, const channel_options& limits, binary_fetch* fetch = nullptr)
      : impl_(make(mode, limits, fetch)) {}

  receive_buffer& buffer() noexcept {
    return std::visit([](auto& d) -> receive_buffer& { return d.buffer(); }, impl_);
  }
  std::optional<decoded> next() {
    return std::visit([](auto& d) { return d.next(); }, impl_);
  }
  std::optional<error> finish() {
    return std::visit([](auto& d) { return d.finish(); }, impl_);
  }
  /// Where the message next() decoded last lay in the stream.
  stream_span last_span() const noexcept {
    return std::visit([](const auto& d) { return d.last_span(); }, impl_);
  }
  /// Takes back the memory of the message next() returned last, now that nothing reads it (in
  /// advanced serialization: its large binary values' vectors, for the next ones).
  void recycle(json& message) noexcept {
    if (auto* frames = std::get_if<advanced_frame_decoder>(&impl_)) frames->recycle(message);
  }

  /// true when the stream cannot go on (a frame too long to skip).
  bool broken() const noexcept {
    if (const auto* frames = std::get_if<binary_frame_decoder>(&impl_)) return frames->broken();
    if (const auto* frames = std::get_if<advanced_frame_decoder>(&impl_)) return frames->broken();
    return false;
  }

 private:
  using variant = std::variant<json_line_decoder, binary_frame_decoder, advanced_frame_decoder>;
  static variant make(serialization mode, const channel_options& limits, binary_fetch* fetch) {
    switch (mode) {
      case serialization::binary:
        return variant(std::in_place_type<binary_frame_decoder>, limits.max_message_size, fetch,
                       limits.max_nesting_depth);
      case serialization::advanced:
        return variant(std::in_place_type<advanced_frame_decoder>, limits.max_message_size,
                       limits.max_nesting_depth);
      case serialization::json: break;
    }
    return variant(std::in_place_type<json_line_decoder>, limits.max_message_size, limits.max_nesting_depth);
  }

  variant impl_;
};

}  // namespace forkipc::detail
