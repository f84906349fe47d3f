// V8's value serialization format (what v8.serialize and Node's 'advanced' IPC write) to and
// from forkipc::json, as the table in docs/from-node.md maps one to the other. Without I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <forkipc/channel_options.hpp>
#include <forkipc/error.hpp>
#include <forkipc/json.hpp>

#include "codec/binary_spares.hpp"

namespace forkipc::detail {

/// The format version written: V8's since 2022 (Node 18 to 24 write it).
inline constexpr unsigned v8_format_version = 15;
/// The versions read. 13 brought host objects' own tag, 14 a flags field in array buffer views,
/// 15 a tag for shared objects; older data misreads without the receiver's delegate.
inline constexpr unsigned v8_oldest_version = 13;

/// The largest BigInt read or written, in bits. Its decimal digits cost time quadratic in its
/// size; this keeps a message's worth of them to milliseconds.
inline constexpr std::size_t v8_max_bigint_bits = 16384;

/// Appends V8's header and value for message: the body of an advanced frame. origin is where
/// the serializer's buffer starts in out (V8 pads two-byte strings to an even offset from it).
/// Throws error(errc::unencodable_message), with out holding part of the value (the caller
/// truncates it), for what has no V8 form: a string that is not UTF-8 (or WTF-8: lone
/// surrogates are kept), a malformed tagged form, a hole outside an array, a binary subtype that
/// names no view or a typed array whose bytes are not whole elements, a BigInt over
/// v8_max_bigint_bits, a string or binary of 4 GiB or more, a value nested more than max_depth
/// levels deep. Never recurses.
void write_v8_message(const json& message, std::string& out, std::size_t origin,
                      std::size_t max_depth = channel_options{}.max_nesting_depth);

/// What read_v8_message refuses, and where.
struct v8_read_error {
  errc code;      ///< malformed_message, nesting_too_deep, or message_too_large
  std::string why;
  std::size_t at;  ///< the offset in the bytes where it was seen
};

/// The limits of one read.
struct v8_read_limits {
  /// The deepest nesting of the json value made (tagged forms count as the objects they are).
  std::size_t max_depth = channel_options{}.max_nesting_depth;
  /// The most the value may cost: one for each json value made, one for each byte of its
  /// strings and binaries. Shared references count what they copy, so that a message of nested
  /// references cannot expand exponentially, and a sparse array counts its holes.
  std::size_t max_cost = 4 * channel_options{}.max_message_size;
};

/// Reads bytes (V8's header, then one value; bytes after the value are ignored, as V8 does)
/// into out. Returns nullopt, or what was wrong: a missing or unsupported version, a bad tag or
/// length, truncated data, duplicate keys, a wrong count of properties or entries, a reference
/// to an object not read yet or one that makes the value cyclic, what cannot travel between
/// processes (SharedArrayBuffer, WebAssembly), a value past a limit. Never recurses.
/// Large binary values are made in spares' vectors when it is given.
std::optional<v8_read_error> read_v8_message(std::string_view bytes, json& out, const v8_read_limits& limits,
                                             binary_spares* spares = nullptr);

}  // namespace forkipc::detail
