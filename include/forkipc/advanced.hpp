// forkipc::advanced: the json forms of the JavaScript values that Node's "advanced" serialization
// carries and JSON cannot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <forkipc/json.hpp>

/// \namespace forkipc::advanced
/// What a message means in serialization::advanced, beyond JSON. A JavaScript value that JSON
/// has no form for arrives as a single-key object whose key is one of the reserved names below
/// (a "tagged form"), or as a binary value whose subtype says what it was; each goes back to a
/// Node peer as the value it came from. The whole mapping is in docs/from-node.md.
namespace forkipc::advanced {

/// The subtype of a json binary value in advanced serialization: which JavaScript object its
/// bytes are. A binary value without a subtype is a Node Buffer, and a Buffer arrives as one.
/// The numbers of the views are Node's own (lib/v8.js); array_buffer is 'B', V8's tag.
enum class binary_kind : std::uint8_t {
  int8_array = 0,
  uint8_array = 1,
  uint8_clamped_array = 2,
  int16_array = 3,
  uint16_array = 4,
  int32_array = 5,
  uint32_array = 6,
  float32_array = 7,
  float64_array = 8,
  data_view = 9,
  /// Node's own number for a Buffer: a binary value with it is sent as a Buffer, which then
  /// arrives without a subtype.
  buffer = 10,
  bigint64_array = 11,
  biguint64_array = 12,
  /// Node 24 reads and writes it; Node 20 has no Float16Array, and its receiver throws on one
  /// (an uncaught exception in its channel: the Node process ends).
  float16_array = 13,
  array_buffer = 66,
};

/// The bytes of one element of kind: a typed array's byte length is a multiple of it.
constexpr std::size_t element_size(binary_kind kind) noexcept {
  switch (kind) {
    case binary_kind::int16_array:
    case binary_kind::uint16_array:
    case binary_kind::float16_array:
      return 2;
    case binary_kind::int32_array:
    case binary_kind::uint32_array:
    case binary_kind::float32_array:
      return 4;
    case binary_kind::float64_array:
    case binary_kind::bigint64_array:
    case binary_kind::biguint64_array:
      return 8;
    default:
      return 1;
  }
}

/// The kind a subtype names, or nullopt for a number that names none.
constexpr std::optional<binary_kind> binary_kind_of(std::uint64_t subtype) noexcept {
  if (subtype <= 13 || subtype == 66) return static_cast<binary_kind>(subtype);
  return std::nullopt;
}

/// What a binary value is: buffer without a subtype, else what its subtype names (nullopt for a
/// subtype that names nothing, which cannot be sent in advanced serialization).
inline std::optional<binary_kind> kind_of(const json::binary_t& bytes) noexcept {
  return bytes.has_subtype() ? binary_kind_of(bytes.subtype()) : binary_kind::buffer;
}

/// A binary value of kind holding bytes: a Buffer (no subtype) for binary_kind::buffer.
inline json binary(binary_kind kind, std::span<const std::uint8_t> bytes) {
  json::binary_t::container_type data(bytes.begin(), bytes.end());
  if (kind == binary_kind::buffer) return json::binary(std::move(data));
  return json::binary(std::move(data), static_cast<std::uint8_t>(kind));
}

/// The reserved names: an object with exactly one member, named so, is the tagged form it names.
namespace tag {
inline constexpr std::string_view undefined = "$undefined";  ///< {"$undefined": null}
inline constexpr std::string_view hole = "$hole";  ///< {"$hole": null}: a missing array element
inline constexpr std::string_view bigint = "$bigint";  ///< {"$bigint": "-123"}: decimal digits
inline constexpr std::string_view date = "$date";  ///< {"$date": 0}: ms since 1970 (NaN: invalid)
inline constexpr std::string_view regexp = "$regexp";  ///< {"$regexp": {"source": ..., "flags": ...}}
inline constexpr std::string_view map = "$map";  ///< {"$map": [[key, value], ...]}
inline constexpr std::string_view set = "$set";  ///< {"$set": [value, ...]}
inline constexpr std::string_view error = "$error";  ///< {"$error": {"name", "message", "stack", "cause"}}
inline constexpr std::string_view boxed = "$boxed";  ///< {"$boxed": 1}: new Number(1), and so on
inline constexpr std::string_view array = "$array";  ///< {"$array": {"items": [...], "properties": {...}}}
inline constexpr std::string_view object = "$object";  ///< {"$object": {...}}: a plain object, as is
}  // namespace tag

/// true when name is one of the reserved names of namespace tag.
constexpr bool is_reserved(std::string_view name) noexcept {
  for (std::string_view reserved : {tag::undefined, tag::hole, tag::bigint, tag::date, tag::regexp, tag::map,
                                    tag::set, tag::error, tag::boxed, tag::array, tag::object})
    if (name == reserved) return true;
  return false;
}

/// The content of value when it is the tagged form named name (a tag:: constant), else null:
/// `if (const json* entries = advanced::tagged(m, advanced::tag::map)) ...`.
inline const json* tagged(const json& value, std::string_view name) {
  if (!value.is_object() || value.size() != 1) return nullptr;
  const auto& member = *value.get_ref<const json::object_t&>().begin();
  return member.first == name ? &member.second : nullptr;
}

/// undefined.
inline json undefined() { return json{{tag::undefined, nullptr}}; }
/// A hole: only an array's element can be one.
inline json hole() { return json{{tag::hole, nullptr}}; }
/// A BigInt, from its decimal digits (an optional "-", then digits).
inline json bigint(std::string decimal) { return json{{tag::bigint, std::move(decimal)}}; }
/// A BigInt of value.
inline json bigint(std::int64_t value) { return bigint(std::to_string(value)); }
/// A Date, from milliseconds since 1970-01-01 UTC.
inline json date(double milliseconds) { return json{{tag::date, milliseconds}}; }
/// A RegExp: its source and flags ("dgimsuvy", in any order).
inline json regexp(std::string source, std::string flags = {}) {
  return json{{tag::regexp, {{"source", std::move(source)}, {"flags", std::move(flags)}}}};
}
/// A Map, from an array of [key, value] pairs.
inline json map(json entries = json::array()) { return json{{tag::map, std::move(entries)}}; }
/// A Map, from its entries: `advanced::map({{"key", 1}, {2, "two"}})`. (A json initializer list
/// of two-element lists with string keys would make an object instead.)
inline json map(std::initializer_list<std::pair<json, json>> entries) {
  json pairs = json::array();
  for (const auto& [key, value] : entries) pairs.push_back(json::array({key, value}));
  return map(std::move(pairs));
}
/// A Set, from an array of its values.
inline json set(json values = json::array()) { return json{{tag::set, std::move(values)}}; }
/// A Set, from its values: `advanced::set({1, "one"})`.
inline json set(std::initializer_list<json> values) { return set(json::array_t(values)); }
/// A plain object, as it is: wrapped in {"$object": ...} when it would otherwise read as a tagged
/// form (its only key is a reserved name), else unchanged.
inline json object(json members) {
  if (members.is_object() && members.size() == 1 && is_reserved(members.begin().key()))
    return json{{tag::object, std::move(members)}};
  return members;
}

}  // namespace forkipc::advanced
