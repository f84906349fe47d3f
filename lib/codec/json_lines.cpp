#include "codec/json_lines.hpp"

#include "codec/json_text.hpp"
#include "codec/utf8.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace forkipc::detail {
namespace {

// nlohmann's messages read "[json.exception.parse_error.101] parse error at line 1, column 6:
// syntax error while parsing value - invalid literal; last read: '...'; expected ...". Keep the
// reason only: "last read" quotes raw input, which may not even be valid UTF-8.
std::string parse_error_reason(const char* what) {
  std::string_view text(what);
  if (auto column = text.find("column "); column != std::string_view::npos) {
    if (auto colon = text.find(": ", column); colon != std::string_view::npos)
      text.remove_prefix(colon + 2);
  } else if (auto bracket = text.find("] "); bracket != std::string_view::npos) {
    text.remove_prefix(bracket + 2);
  }
  return std::string(text.substr(0, text.find("; last read")));
}

bool is_hex4(std::string_view s, std::size_t i) noexcept {
  if (i + 4 > s.size()) return false;
  return std::all_of(s.begin() + i, s.begin() + i + 4,
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

unsigned hex4(std::string_view s, std::size_t i) noexcept {
  return static_cast<unsigned>(std::stoul(std::string(s.substr(i, 4)), nullptr, 16));
}

// Rewrites "\uXXXX" escapes of lone UTF-16 surrogates as "\ufffd"; pairs stay as they are.
std::string replace_lone_surrogates(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  std::size_t i = 0;
  while (i < line.size()) {
    if (line[i] != '\\' || i + 1 >= line.size()) {
      out.push_back(line[i++]);
      continue;
    }
    if (line[i + 1] != 'u' || !is_hex4(line, i + 2)) {  // another escape: copy it whole
      out.append(line.substr(i, 2));
      i += 2;
      continue;
    }
    const unsigned unit = hex4(line, i + 2);
    const bool high = unit >= 0xD800 && unit <= 0xDBFF;
    const bool low = unit >= 0xDC00 && unit <= 0xDFFF;
    const bool paired = high && i + 12 <= line.size() && line[i + 6] == '\\' &&
                        line[i + 7] == 'u' && is_hex4(line, i + 8) &&
                        hex4(line, i + 8) >= 0xDC00 && hex4(line, i + 8) <= 0xDFFF;
    if (paired) {
      out.append(line.substr(i, 12));
      i += 12;
    } else {
      out.append(high || low ? std::string_view("\\ufffd") : line.substr(i, 6));
      i += 6;
    }
  }
  return out;
}


error malformed(std::string_view line, const json::exception& e) {
  const std::string reason = parse_error_reason(e.what());
  const char* what = reason.find("UTF-8") != std::string::npos ? "invalid UTF-8" : "invalid JSON";
  std::string where;
  if (const auto* parse_error = dynamic_cast<const json::parse_error*>(&e))
    where = " at byte " + std::to_string(parse_error->byte);
  return error(errc::malformed_message, std::string(what) + where + " of a " +
                                            size_text(line.size()) + " line (" + reason +
                                            "): " + excerpt(line));
}

}  // namespace

namespace {

decoded parse(std::string_view text) {
  return classify(json::parse(text.data(), text.data() + text.size()));
}

decoded decode_line(std::string_view line, std::size_t max_depth) {
  if (line.empty() || line == "\r") {
    return error(errc::malformed_message, "received an empty line where a message belongs");
  }
  json value;
  if (read_json(line, value, max_depth)) return classify(std::move(value));
  // nlohmann's parser takes any depth without recursing, but what it builds would reach code
  // that recurses (its own dump() and copies among it): too deep a line stops here.
  if (const std::size_t depth = text_nesting_depth(line, max_depth); depth > max_depth) {
    return error(errc::nesting_too_deep, "a message of " + size_text(line.size()) +
                                             " nested more than " + std::to_string(max_depth) +
                                             " levels deep was discarded (max_nesting_depth): " +
                                             excerpt(line));
  }
  // What the fast reader declines goes to nlohmann's parser, for its precise error, and for the
  // few valid texts the reader leaves to it. Every nlohmann exception is the peer's fault here,
  // not only parse_error: a number beyond double's range is out_of_range, for one.
  try {
    return parse(line);
  } catch (const json::exception& e) {
    if (std::string_view(e.what()).find("surrogate") == std::string_view::npos)
      return malformed(line, e);
  }
  try {
    return parse(replace_lone_surrogates(line));
  } catch (const json::exception& e) {
    return malformed(line, e);
  }
}

}  // namespace

void encode_json_line(const json& message, std::string& out, std::size_t max_depth) {
  const std::size_t original_size = out.size();
  try {
    write_json(message, out, max_depth);
  } catch (...) {
    out.resize(original_size);
    throw;
  }
  out.push_back('\n');
}


std::optional<decoded> json_line_decoder::next() {
  std::string_view data = buffer_.data();
  if (data.empty()) return std::nullopt;
  if (discarding_) {
    const std::size_t newline = data.find('\n');
    if (newline == std::string_view::npos) {
      buffer_.clear();
      return std::nullopt;
    }
    buffer_.consume(newline + 1);
    data = buffer_.data();
    scanned_ = 0;
    discarding_ = false;
  }
  const std::size_t newline = data.find('\n', scanned_);
  if (newline == std::string_view::npos) {
    scanned_ = data.size();
    if (data.size() <= max_message_size_) return std::nullopt;
    // Too long already: report it now, and drop its bytes as they come.
    error too_large(errc::message_too_large, "a message of more than " +
                                                 size_text(max_message_size_) +
                                                 " was discarded: " + excerpt(data));
    buffer_.clear();
    scanned_ = 0;
    discarding_ = true;
    return too_large;
  }
  const std::string_view line = data.substr(0, newline);
  last_span_ = {buffer_.position(), buffer_.position() + newline + 1};
  // The line's bytes stay where they are until the next prepare(), so consuming first is safe.
  buffer_.consume(newline + 1);
  scanned_ = 0;
  if (line.size() > max_message_size_) {
    return error(errc::message_too_large, "a message of " + size_text(line.size()) +
                                              " was discarded (the limit is " +
                                              size_text(max_message_size_) + "): " +
                                              excerpt(line));
  }
  return decode_line(line, max_nesting_depth_);
}

std::optional<error> json_line_decoder::finish() {
  const std::string_view tail = discarding_ ? std::string_view() : buffer_.data();
  std::optional<error> result;
  if (!tail.empty()) {
    result.emplace(errc::truncated_message,
                   "the channel ended after " + size_text(tail.size()) +
                       " of a message without its final newline: " + excerpt(tail));
  }
  buffer_.clear();
  scanned_ = 0;
  discarding_ = false;
  return result;
}

std::string excerpt(std::string_view bytes, std::size_t limit) {
  std::string out = "\"";
  std::size_t i = 0;
  while (i < bytes.size() && out.size() < limit) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    const std::size_t length = utf8_sequence_length(bytes, i);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (length > 1 || (length == 1 && c >= 0x20 && c != 0x7F)) {
      out.append(bytes.substr(i, length));
      i += length;
      continue;
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out.append(hex);
    }
    ++i;
  }
  out.push_back('"');
  if (i < bytes.size()) out.append("... (" + size_text(bytes.size()) + " in all)");
  return out;
}

}  // namespace forkipc::detail
