// Node's 'json' framing, without I/O: one message is its JSON text and "\n", in UTF-8.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <forkipc/channel_options.hpp>
#include <forkipc/error.hpp>
#include <forkipc/json.hpp>

#include "codec/decoded.hpp"
#include "codec/stream_decoder.hpp"
#include "size_text.hpp"

namespace forkipc::detail {

/// Appends message's JSON text and "\n" to out, as Node writes it: raw UTF-8 (U+2028 included),
/// NaN and infinities as null. Throws error(errc::unencodable_message), leaving out as it was,
/// for a string that is not valid UTF-8 or a message nested more than max_depth levels deep.
void encode_json_line(const json& message, std::string& out,
                      std::size_t max_depth = channel_options{}.max_nesting_depth);

/// Splits a byte stream into lines and decodes each. Bytes go straight into the decoder's buffer,
/// and lines are parsed where they lie: each byte is
/// scanned for "\n" once, so a large message costs linear time however it is split.
///
/// Bad input never stops the stream: an empty or malformed line, invalid UTF-8, a line over
/// max_message_size, or one nested more than max_nesting_depth levels deep decodes to an error,
/// and the next line decodes as usual. An over-long line
/// is dropped as it streams in: the decoder never holds more than max_message_size bytes of it
/// plus one read. Lone UTF-16 surrogate escapes (which Node writes for lone surrogates, as
/// "\ud800") decode to U+FFFD, as Node decodes invalid UTF-8.
class json_line_decoder : public stream_decoder {
 public:
  explicit json_line_decoder(std::size_t max_message_size,
                             std::size_t max_nesting_depth = channel_options{}.max_nesting_depth) noexcept
      : stream_decoder(max_message_size, max_nesting_depth, max_message_size) {}

  /// The next decoded line, or nullopt when no complete line is buffered.
  std::optional<decoded> next();

  /// At the end of the stream: an error if it ended inside a line (whose bytes are dropped).
  std::optional<error> finish();

 private:
  std::size_t scanned_ = 0;  // bytes at the start of the buffer searched for "\n" already
  bool discarding_ = false;  // dropping the rest of an over-long line
};

/// A short, printable, valid UTF-8 rendering of the start of bytes, for error messages.
std::string excerpt(std::string_view bytes, std::size_t limit = 48);

}  // namespace forkipc::detail
