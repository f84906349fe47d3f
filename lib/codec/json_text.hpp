// JSON text to and from forkipc::json, on the hot path of every message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <forkipc/channel_options.hpp>
#include <forkipc/json.hpp>

namespace forkipc::detail {

/// Appends value as compact JSON text to out, as JSON.stringify writes it: raw UTF-8 (U+2028
/// included), the shortest decimal that reads back as the same double (with ".0" when a float
/// would otherwise read back as an integer), NaN and infinities as null. Throws
/// error(errc::unencodable_message) for a string that is not valid UTF-8, or a value nested more
/// than max_depth levels deep; out may then hold part of the text (the caller truncates it).
/// Never recurses, whatever the value's depth.
void write_json(const json& value, std::string& out,
                std::size_t max_depth = channel_options{}.max_nesting_depth);

/// Reads text, which must be exactly one JSON value with optional whitespace around it, into
/// out. Returns false for anything it does not take: invalid JSON, and a few valid texts it
/// leaves to nlohmann's parser (lone surrogate escapes, numbers beyond double's range, nesting
/// deeper than 256 or than max_depth); out is then unspecified. Valid text it takes reads as nlohmann's parser
/// reads it: non-negative integers as unsigned, negative ones as signed, integers too large for
/// 64 bits and numbers with a fraction or exponent as double, the last of duplicate keys.
bool read_json(std::string_view text, json& out,
               std::size_t max_depth = channel_options{}.max_nesting_depth);

/// The deepest nesting of arrays and objects in text, read as JSON (brackets inside strings do
/// not count), or a number above stop_above as soon as it is passed. Whether text is valid JSON
/// does not matter: it is a cheap look before nlohmann's parser is given a line.
std::size_t text_nesting_depth(std::string_view text, std::size_t stop_above);

}  // namespace forkipc::detail
