// MessagePack to and from forkipc::json: the body of every frame in binary serialization.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <forkipc/channel_options.hpp>
#include <forkipc/error.hpp>
#include <forkipc/json.hpp>

#include "codec/receive_buffer.hpp"  // stream_span

namespace forkipc::detail {

/// The MessagePack extension type forkipc keeps for a binary value that travels out of band (in
/// shared memory): its payload is a reference only the channel's two ends understand. A user's
/// binary value with this subtype cannot be sent.
inline constexpr std::uint8_t out_of_band_ext = 127;

/// The MessagePack extension type that marks a frame whose whole body is bytes sent with
/// send_bytes (never a JSON value); like out_of_band_ext, a user's binary value with this
/// subtype cannot be sent.
inline constexpr std::uint8_t raw_bytes_ext = 126;

/// The sender's side of out-of-band binaries: what write_msgpack hands a large binary value to.
class binary_spill {
 public:
  /// Binary values of at least this many bytes are spilled.
  virtual std::size_t threshold() const noexcept = 0;
  /// Stores bytes out of band and appends the reference that stands for them to out; or returns
  /// false, appending nothing, to have them written inline.
  virtual bool spill(std::span<const std::uint8_t> bytes, std::string& out) = 0;

 protected:
  ~binary_spill() = default;
};

/// The receiver's side: turns a reference back into the bytes.
class binary_fetch {
 public:
  /// A new message starts, lying at span in the stream: limits that apply per message start over.
  virtual void begin_message(stream_span) noexcept {}
  /// Fills out from reference; returns what was wrong with it, or nullopt.
  virtual std::optional<std::string> fetch(std::string_view reference, json::binary_t& out) = 0;
  /// The message was read whole: returns why it must be dropped all the same (a limit that
  /// applies to the whole message), or nullopt.
  virtual std::optional<std::string> end_message() { return std::nullopt; }

 protected:
  ~binary_fetch() = default;
};

/// Appends value as MessagePack to out: integers in their smallest form (non-negative ones
/// unsigned), every double as float 64, binary values without a subtype as bin, with one as ext.
/// Binary values of spill->threshold() bytes and more go to spill (when not null). Throws
/// error(errc::unencodable_message) for a string that is not valid UTF-8, a binary value with
/// the subtype out_of_band_ext or raw_bytes_ext, or a value nested more than max_depth levels deep; out may then
/// hold part of the encoding (the caller truncates it). Never recurses.
void write_msgpack(const json& value, std::string& out, binary_spill* spill = nullptr,
                   std::size_t max_depth = channel_options{}.max_nesting_depth);

/// Why read_msgpack could not read its bytes: code is errc::nesting_too_deep for a value nested
/// too deep, errc::malformed_message for anything else.
struct msgpack_error {
  errc code;
  std::string why;
};

/// Appends the header of an extension value of n bytes of type type (fixext forms for 1, 2, 4,
/// 8 and 16 bytes, else ext 8/16/32). Throws error(errc::unencodable_message) past 4 GiB.
void write_msgpack_ext_header(std::size_t n, std::uint8_t type, std::string& out);

/// When body is exactly one extension value of type type, its payload.
std::optional<std::string_view> msgpack_ext_payload(std::string_view body, std::uint8_t type) noexcept;

/// Reads bytes, which must be exactly one MessagePack value, into out. Returns nullopt, or what
/// was wrong: truncated or trailing bytes, a reserved type byte, a map key that is not a string,
/// invalid UTF-8 in a string, nesting more than max_depth levels deep, an out-of-band reference
/// without fetch or one fetch refused. What it allocates is proportional to the size of bytes,
/// plus what fetch returns: a count in the input never reserves more than the bytes left could
/// hold. Never recurses.
std::optional<msgpack_error> read_msgpack(std::string_view bytes, json& out,
                                          binary_fetch* fetch = nullptr,
                                          std::size_t max_depth = channel_options{}.max_nesting_depth);

}  // namespace forkipc::detail
