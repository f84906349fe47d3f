// The framing binary and advanced serialization share, without I/O: a 4-byte big-endian length,
// then that many bytes of body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <forkipc/error.hpp>

#include "codec/stream_decoder.hpp"
#include "size_text.hpp"

namespace forkipc::detail {

/// The bytes of a frame's length.
inline constexpr std::size_t length_prefix_size = 4;

/// Appends one frame to out: its length, then what write_body(out) appends. A body longer than
/// longest_body bytes throws error(errc::unencodable_message), whose message says that format's
/// frames hold at most that many; so does whatever write_body throws. Either way out is left as
/// it was.
template <class WriteBody>
void append_length_prefixed(std::string& out, std::uint32_t longest_body, std::string_view format,
                            WriteBody&& write_body) {
  const std::size_t start = out.size();
  out.append(length_prefix_size, '\0');
  try {
    write_body(out);
  } catch (...) {
    out.resize(start);
    throw;
  }
  const std::size_t length = out.size() - start - length_prefix_size;
  if (length > longest_body) {
    out.resize(start);
    throw error(errc::unencodable_message, "cannot encode a message of " + size_text(length) + ": " +
                                               std::string(format) + " frames hold at most " +
                                               size_text(longest_body));
  }
  for (std::size_t i = 0; i < length_prefix_size; ++i)
    out[start + i] = static_cast<char>(length >> (8 * (length_prefix_size - 1 - i)));
}

/// Splits a byte stream into length-prefixed frames, in place in its buffer; what a body means
/// is the caller's: the frame decoders derive from it and add their next().
///
/// A length over max_message_size, or over the longest body the format allows, cannot be
/// skipped safely (a peer that lies about one length may lie about the next): it is an error,
/// and the splitter is broken() from then on, so the channel closes. An empty frame is an error
/// that the stream survives. The splitter never holds more than one frame of at most
/// max_message_size bytes plus one read.
class length_prefixed_frames : public stream_decoder {
 public:
  /// format names the framing in errors ("binary", "advanced"); longest_body is what its frames
  /// can hold.
  length_prefixed_frames(std::size_t max_message_size, std::size_t max_nesting_depth, std::uint32_t longest_body,
                         std::string_view format) noexcept
      : stream_decoder(max_message_size, max_nesting_depth, max_message_size + length_prefix_size),
        longest_body_(longest_body),
        format_(format) {}

  /// The next frame's body, a view of the buffer valid until it is prepared or fed again; or
  /// what was wrong with the frame; or nullopt when no complete frame is buffered (or broken()).
  std::optional<std::variant<std::string_view, error>> next_body();

  /// At the end of the stream: an error if it ended inside a frame.
  std::optional<error> finish();

  /// true after a frame too long to skip: nothing more can be decoded.
  bool broken() const noexcept { return broken_; }

 private:
  std::uint32_t longest_body_;
  std::string_view format_;
  bool broken_ = false;
};

/// A hexadecimal rendering of the start of bytes, for error messages.
std::string hex_excerpt(std::string_view bytes, std::size_t limit = 16);

}  // namespace forkipc::detail
