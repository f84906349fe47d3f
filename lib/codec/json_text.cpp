#include "codec/json_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>

#include <forkipc/error.hpp>

#include "codec/json_walk.hpp"
#include "codec/utf8.hpp"

// Why not nlohmann's own parser and serializer: they go byte by byte through input and output
// adapters, build every string in a token buffer first, and allocate scaffolding per parse; on
// this machine they read 1 MiB strings at 77 MB/s and write them at 224 MB/s. This reads and
// writes runs of plain bytes in bulk, eight at a time.

namespace forkipc::detail {
namespace {

// The reader recurses once per level: deeper nesting goes to nlohmann's parser, which does not.
constexpr std::size_t max_reader_depth = 256;

// ---------------------------------------------------------------------------------- reading

class reader {
 public:
  reader(std::string_view text, std::size_t max_depth)
      : p_(text.data()), end_(text.data() + text.size()), max_depth_(std::min(max_depth, max_reader_depth)) {}

  bool document(json& out) {
    skip_whitespace();
    if (!value(out, 0)) return false;
    skip_whitespace();
    return p_ == end_;
  }

 private:
  void skip_whitespace() noexcept {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool literal(std::string_view word) noexcept {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  bool value(json& out, std::size_t depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{': return object(out, depth + 1);
      case '[': return array(out, depth + 1);
      case '"': {
        std::string text;
        if (!string(text)) return false;
        out = std::move(text);
        return true;
      }
      case 't': out = true; return literal("true");
      case 'f': out = false; return literal("false");
      case 'n': out = nullptr; return literal("null");
      default: return number(out);
    }
  }

  bool object(json& out, std::size_t depth) {
    if (depth > max_depth_) return false;
    ++p_;  // '{'
    out = json::object();
    auto& members = out.get_ref<json::object_t&>();
    skip_whitespace();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    for (;;) {
      std::string key;
      if (p_ == end_ || *p_ != '"' || !string(key)) return false;
      skip_whitespace();
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      skip_whitespace();
      if (!value(members[std::move(key)], depth)) return false;  // a repeated key: the last wins
      skip_whitespace();
      if (p_ == end_) return false;
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      if (*p_++ != ',') return false;
      skip_whitespace();
    }
  }

  bool array(json& out, std::size_t depth) {
    if (depth > max_depth_) return false;
    ++p_;  // '['
    out = json::array();
    auto& elements = out.get_ref<json::array_t&>();
    skip_whitespace();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      if (!value(elements.emplace_back(), depth)) return false;
      skip_whitespace();
      if (p_ == end_) return false;
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      if (*p_++ != ',') return false;
      skip_whitespace();
    }
  }

  // A string from its opening quote; out receives its UTF-8 text.
  bool string(std::string& out) {
    ++p_;  // '"'
    const char* run = p_;  // plain bytes not yet copied to out
    for (;;) {
      while (end_ - p_ >= 8 && !word_needs_attention(p_)) p_ += 8;
      if (p_ == end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out.append(run, p_);
        ++p_;
        return true;
      }
      if (c == '\\') {
        out.append(run, p_);
        if (!escape(out)) return false;
        run = p_;
      } else if (c < 0x20) {
        return false;  // a raw control character
      } else if (c >= 0x80) {
        const std::size_t length = utf8_sequence_length({p_, static_cast<std::size_t>(end_ - p_)}, 0);
        if (length == 0) return false;
        p_ += length;
      } else {
        ++p_;
      }
    }
  }

  bool hex4(unsigned& unit) noexcept {
    if (end_ - p_ < 4) return false;
    const auto [last, ec] = std::from_chars(p_, p_ + 4, unit, 16);
    if (ec != std::errc() || last != p_ + 4) return false;
    p_ += 4;
    return true;
  }

  bool escape(std::string& out) {
    ++p_;  // '\\'
    if (p_ == end_) return false;
    switch (*p_++) {
      case '"': out.push_back('"'); return true;
      case '\\': out.push_back('\\'); return true;
      case '/': out.push_back('/'); return true;
      case 'b': out.push_back('\b'); return true;
      case 'f': out.push_back('\f'); return true;
      case 'n': out.push_back('\n'); return true;
      case 'r': out.push_back('\r'); return true;
      case 't': out.push_back('\t'); return true;
      case 'u': break;
      default: return false;
    }
    unsigned code = 0;
    if (!hex4(code)) return false;
    if (code >= 0xDC00 && code <= 0xDFFF) return false;  // a lone low surrogate
    if (code >= 0xD800 && code <= 0xDBFF) {
      unsigned low = 0;
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;  // a lone high one
      p_ += 2;
      if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(out, code);
    return true;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (code >> 6)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (code >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (code >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

  // RFC 8259's grammar, checked here, since from_chars takes more (leading zeros, "+", "inf").
  bool number(json& out) {
    const char* start = p_;
    const bool negative = p_ != end_ && *p_ == '-';
    if (negative) ++p_;
    if (p_ == end_ || !digit(*p_)) return false;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && digit(*p_)) ++p_;
    }
    bool integral = true;
    if (p_ != end_ && *p_ == '.') {
      integral = false;
      ++p_;
      if (p_ == end_ || !digit(*p_)) return false;
      while (p_ != end_ && digit(*p_)) ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !digit(*p_)) return false;
      while (p_ != end_ && digit(*p_)) ++p_;
    }
    if (integral) {
      if (negative) {
        std::int64_t n = 0;
        if (std::from_chars(start, p_, n).ec == std::errc()) {
          out = n;
          return true;
        }
      } else {
        std::uint64_t n = 0;
        if (std::from_chars(start, p_, n).ec == std::errc()) {
          out = n;
          return true;
        }
      }
      // Too large for 64 bits: a double, as nlohmann reads it.
    }
    double d = 0;
    if (!to_double(start, p_, d)) return false;  // out of range: nlohmann decides
    out = d;
    return true;
  }

  // The text of a JSON number (checked above) as a double, whatever the C locale's decimal point.
  static bool to_double(const char* first, const char* last, double& d) {
#if defined(__cpp_lib_to_chars)
    const auto [end, ec] = std::from_chars(first, last, d);
    return ec == std::errc() && end == last;
#else
    // A standard library without floating-point from_chars (libc++ before 20): nlohmann's
    // reader, slower but as exact, and as indifferent to the locale.
    const json value = json::parse(first, last, nullptr, false);
    if (!value.is_number_float()) return false;
    d = value.get<double>();
    return true;
#endif
  }

  const char* p_;
  const char* end_;
  std::size_t max_depth_;
};

// ---------------------------------------------------------------------------------- writing

[[noreturn]] void throw_invalid_utf8(std::size_t index) {
  throw error(errc::unencodable_message,
              "cannot encode the message as JSON (a string holds invalid UTF-8 at byte " + std::to_string(index) + ")");
}

void write_string(const std::string& text, std::string& out) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  const char* p = begin;
  const char* run = p;  // plain bytes not yet copied to out
  while (p != end) {
    if (end - p >= 8 && !word_needs_attention(p)) {
      p += 8;
      continue;
    }
    const auto c = static_cast<unsigned char>(*p);
    if (c >= 0x80) {
      const std::size_t length = utf8_sequence_length({p, static_cast<std::size_t>(end - p)}, 0);
      if (length == 0) throw_invalid_utf8(static_cast<std::size_t>(p - begin));
      p += length;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++p;
      continue;
    }
    out.append(run, p);
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default: {
        const char escaped[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
        out.append(escaped, sizeof escaped);
      }
    }
    run = ++p;
  }
  out.append(run, p);
  out.push_back('"');
}

template <class Number>
void write_number(Number n, std::string& out) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, n);
  out.append(buffer, result.ptr);
}

void write_double(double d, std::string& out) {
  if (!std::isfinite(d)) {
    out.append("null");  // JSON.stringify's choice
    return;
  }
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, d);  // shortest round trip
  const std::string_view text(buffer, static_cast<std::size_t>(result.ptr - buffer));
  out.append(text);
  if (text.find_first_of(".e") == std::string_view::npos) out.append(".0");  // stays a double
}

void write_scalar(const json& value, std::string& out) {
  switch (value.type()) {
    case json::value_t::null: out.append("null"); return;
    case json::value_t::boolean: out.append(value.get<bool>() ? "true" : "false"); return;
    case json::value_t::number_integer: write_number(value.get<json::number_integer_t>(), out); return;
    case json::value_t::number_unsigned: write_number(value.get<json::number_unsigned_t>(), out); return;
    case json::value_t::number_float: write_double(value.get<json::number_float_t>(), out); return;
    case json::value_t::string: write_string(value.get_ref<const json::string_t&>(), out); return;
    case json::value_t::binary:
    case json::value_t::discarded:
      // Not JSON proper: written as nlohmann writes them ({"bytes":[...],"subtype":...}).
      nlohmann::detail::serializer<json>(nlohmann::detail::output_adapter<char>(out), ' ',
                                         json::error_handler_t::strict)
          .dump(value, false, false, 0);
      return;
    case json::value_t::array:
    case json::value_t::object:
      break;  // walk() opens these
  }
}

// The visitor of walk() that writes JSON text.
struct text_writer {
  std::string& out;

  void scalar(const json& value) { write_scalar(value, out); }
  void open_array(const json::array_t&) { out.push_back('['); }
  void element(bool first) {
    if (!first) out.push_back(',');
  }
  void close_array() { out.push_back(']'); }
  void open_object(const json::object_t&) { out.push_back('{'); }
  void member(const std::string& key, bool first) {
    if (!first) out.push_back(',');
    write_string(key, out);
    out.push_back(':');
  }
  void close_object() { out.push_back('}'); }
};

}  // namespace

void write_json(const json& value, std::string& out, std::size_t max_depth) {
  text_writer writer{out};
  if (!walk(value, max_depth, writer)) throw_too_deep_to_encode(max_depth);
}

bool read_json(std::string_view text, json& out, std::size_t max_depth) {
  return reader(text, max_depth).document(out);
}

std::size_t text_nesting_depth(std::string_view text, std::size_t stop_above) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // whatever it escapes
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > stop_above) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace forkipc::detail
