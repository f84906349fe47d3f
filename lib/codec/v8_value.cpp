#include "codec/v8_value.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <span>
#include <vector>

#include <forkipc/advanced.hpp>

#include "codec/json_walk.hpp"
#include "codec/utf8.hpp"

namespace forkipc::detail {
namespace {

namespace tags = advanced::tag;
using advanced::binary_kind;

// V8's SerializationTag (src/objects/value-serializer.cc).
enum class v8_tag : std::uint8_t {
  version = 0xFF,
  padding = '\0',
  verify_object_count = '?',
  the_hole = '-',
  undefined = '_',
  null = '0',
  true_value = 'T',
  false_value = 'F',
  int32 = 'I',
  uint32 = 'U',
  double_value = 'N',
  bigint = 'Z',
  utf8_string = 'S',
  one_byte_string = '"',
  two_byte_string = 'c',
  object_reference = '^',
  begin_object = 'o',
  end_object = '{',
  begin_sparse_array = 'a',
  end_sparse_array = '@',
  begin_dense_array = 'A',
  end_dense_array = '$',
  date = 'D',
  true_object = 'y',
  false_object = 'x',
  number_object = 'n',
  bigint_object = 'z',
  string_object = 's',
  regexp = 'R',
  begin_map = ';',
  end_map = ':',
  begin_set = '\'',
  end_set = ',',
  array_buffer = 'B',
  resizable_array_buffer = '~',
  array_buffer_transfer = 't',
  array_buffer_view = 'V',
  shared_array_buffer = 'u',
  shared_object = 'p',
  wasm_module_transfer = 'w',
  host_object = '\\',
  wasm_memory_transfer = 'm',
  error = 'r',
};

// Node's ChildProcessSerializer puts one of these first in a host object.
constexpr std::uint32_t host_array_buffer_view = 0;
constexpr std::uint32_t host_other_object = 1;

// V8's ErrorTag: the prototype (none: Error), then message, stack and cause, then the end.
struct error_prototype {
  char subtag;
  std::string_view name;
};
constexpr error_prototype error_prototypes[] = {
    {'E', "EvalError"}, {'R', "RangeError"}, {'F', "ReferenceError"},
    {'S', "SyntaxError"}, {'T', "TypeError"}, {'U', "URIError"},
};
constexpr char error_message = 'm', error_cause = 'c', error_stack = 's', error_end = '.';

// V8's ArrayBufferViewTag, for the views of a plain serializer ('B' bytes, then 'V').
struct view_subtag {
  char subtag;
  binary_kind kind;
};
constexpr view_subtag view_subtags[] = {
    {'b', binary_kind::int8_array},      {'B', binary_kind::uint8_array},
    {'C', binary_kind::uint8_clamped_array}, {'w', binary_kind::int16_array},
    {'W', binary_kind::uint16_array},    {'d', binary_kind::int32_array},
    {'D', binary_kind::uint32_array},    {'h', binary_kind::float16_array},
    {'f', binary_kind::float32_array},   {'F', binary_kind::float64_array},
    {'q', binary_kind::bigint64_array},  {'Q', binary_kind::biguint64_array},
    {'?', binary_kind::data_view},
};
// The flags of a view (format 14 on): it tracks a resizable buffer's length, it is backed by one.
constexpr std::uint32_t view_length_tracking = 1, view_backed_by_resizable = 2;

// RegExp flags, as V8 numbers them, in the order JavaScript's `flags` spells them. 'l' (linear,
// behind a V8 flag) is refused.
struct regexp_flag {
  char letter;
  std::uint32_t bit;
};
constexpr regexp_flag regexp_flags[] = {{'d', 128}, {'g', 1}, {'i', 2}, {'m', 4},
                                        {'s', 32},  {'u', 16}, {'v', 256}, {'y', 8}};
constexpr std::uint32_t regexp_unicode = 16, regexp_unicode_sets = 256;

constexpr double two_to_53 = 9007199254740992.0;

// A canonical array index ("0", "17"; not "017" or "4294967295"), which JavaScript keeps
// among an array's elements rather than its properties.
std::optional<std::uint32_t> array_index(std::string_view key) noexcept {
  if (key.empty() || key.size() > 10 || (key.size() > 1 && key[0] == '0')) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (n >= 0xFFFFFFFFu) return std::nullopt;
  return static_cast<std::uint32_t>(n);
}

// ---- BigInt digits and decimal text ----

// A magnitude as 32-bit limbs, least significant first, without high zero limbs.
using limbs = std::vector<std::uint32_t>;

void trim(limbs& n) {
  while (!n.empty() && n.back() == 0) n.pop_back();
}

std::string decimal_of(limbs n, bool negative) {
  trim(n);
  if (n.empty()) return "0";
  std::string reversed;  // groups of nine digits, least significant first, each reversed
  while (!n.empty()) {
    std::uint64_t remainder = 0;
    for (std::size_t i = n.size(); i-- > 0;) {
      const std::uint64_t current = (remainder << 32) | n[i];
      n[i] = static_cast<std::uint32_t>(current / 1000000000u);
      remainder = current % 1000000000u;
    }
    trim(n);
    for (int digit = 0; digit < 9 && (remainder > 0 || !n.empty()); ++digit, remainder /= 10)
      reversed.push_back(static_cast<char>('0' + remainder % 10));
  }
  if (negative) reversed.push_back('-');
  return {reversed.rbegin(), reversed.rend()};
}

// The limbs of decimal digits (no sign), or nullopt past v8_max_bigint_bits.
std::optional<limbs> limbs_of(std::string_view digits) {
  limbs n;
  std::size_t at = 0;
  while (at < digits.size()) {
    const std::size_t take = std::min<std::size_t>(9, digits.size() - at);
    std::uint32_t chunk = 0, scale = 1;
    for (std::size_t i = 0; i < take; ++i) {
      chunk = chunk * 10 + static_cast<std::uint32_t>(digits[at + i] - '0');
      scale *= 10;
    }
    at += take;
    std::uint64_t carry = chunk;
    for (std::uint32_t& limb : n) {
      const std::uint64_t product = std::uint64_t{limb} * scale + carry;
      limb = static_cast<std::uint32_t>(product);
      carry = product >> 32;
    }
    if (carry != 0) n.push_back(static_cast<std::uint32_t>(carry));
    if (n.size() * 32 > v8_max_bigint_bits + 32) return std::nullopt;
  }
  trim(n);
  if (!n.empty() && (n.size() - 1) * 32 + static_cast<std::size_t>(std::bit_width(n.back())) > v8_max_bigint_bits)
    return std::nullopt;
  return n;
}

// ---- JavaScript's text of a number (Number.prototype.toString), for keys written as numbers ----

std::string js_number_text(double d) {
  if (std::isnan(d)) return "NaN";
  if (d == 0) return "0";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buffer[40];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, d, std::chars_format::scientific);
  std::string_view text(buffer, static_cast<std::size_t>(result.ptr - buffer));  // [-]d[.ddd]e±xx
  std::string out;
  if (text.front() == '-') {
    out.push_back('-');
    text.remove_prefix(1);
  }
  const std::size_t e = text.find('e');
  std::string digits(1, text[0]);
  if (e > 1) digits.append(text.substr(2, e - 2));
  int exponent = 0;
  std::from_chars(text.data() + e + (text[e + 1] == '+' ? 2 : 1), text.data() + text.size(), exponent);
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;  // the value is 0.digits times 10^n
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<std::size_t>(n)) + "." + digits.substr(static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out += digits.substr(0, 1);
    if (k > 1) out += "." + digits.substr(1);
    out += (n - 1 >= 0 ? "e+" : "e-") + std::to_string(std::abs(n - 1));
  }
  return out;
}

// ---- strings: V8's one-byte (Latin-1) and two-byte (UTF-16) forms and forkipc's WTF-8 ----

// The code point at s[i] and its length, in UTF-8 or as a UTF-16 surrogate in WTF-8's three
// bytes (ED A0..BF 80..BF); length 0 when neither.
std::size_t wtf8_sequence(std::string_view s, std::size_t i, std::uint32_t& code_point) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[k])); };
  std::size_t length = utf8_sequence_length(s, i);
  if (length == 0 && byte(i) == 0xED && i + 2 < s.size() && byte(i + 1) >= 0xA0 && byte(i + 1) <= 0xBF &&
      byte(i + 2) >= 0x80 && byte(i + 2) <= 0xBF)
    length = 3;
  switch (length) {
    case 1: code_point = byte(i); break;
    case 2: code_point = (byte(i) & 0x1F) << 6 | (byte(i + 1) & 0x3F); break;
    case 3: code_point = (byte(i) & 0x0F) << 12 | (byte(i + 1) & 0x3F) << 6 | (byte(i + 2) & 0x3F); break;
    case 4:
      code_point = (byte(i) & 0x07) << 18 | (byte(i + 1) & 0x3F) << 12 | (byte(i + 2) & 0x3F) << 6 | (byte(i + 3) & 0x3F);
      break;
    default: break;
  }
  return length;
}

void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | code_point >> 6));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {  // surrogates too: WTF-8
    out.push_back(static_cast<char>(0xE0 | code_point >> 12));
    out.push_back(static_cast<char>(0x80 | (code_point >> 6 & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | code_point >> 18));
    out.push_back(static_cast<char>(0x80 | (code_point >> 12 & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point >> 6 & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Where the first byte of s at or above 0x80 is, or npos.
std::size_t first_non_ascii(std::string_view s) noexcept {
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, sizeof w);
    if ((w & highs) != 0) break;
  }
  for (; i < s.size(); ++i)
    if (static_cast<unsigned char>(s[i]) >= 0x80) return i;
  return std::string_view::npos;
}

std::string latin1_to_utf8(std::string_view bytes) {
  const std::size_t ascii = first_non_ascii(bytes);
  if (ascii == std::string_view::npos) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 2);
  out.append(bytes.substr(0, ascii));
  for (std::size_t i = ascii; i < bytes.size(); ++i) append_utf8(out, static_cast<unsigned char>(bytes[i]));
  return out;
}

// UTF-16 code units in host byte order (V8's), to UTF-8 with lone surrogates in WTF-8.
std::string utf16_to_wtf8(std::string_view bytes) {
  const std::size_t units = bytes.size() / 2;
  const auto unit = [&](std::size_t k) {
    std::uint16_t u;
    std::memcpy(&u, bytes.data() + 2 * k, 2);
    return std::uint32_t{u};
  };
  std::string out;
  out.reserve(units * 3);
  for (std::size_t k = 0; k < units; ++k) {
    const std::uint32_t u = unit(k);
    if (u >= 0xD800 && u <= 0xDBFF && k + 1 < units && unit(k + 1) >= 0xDC00 && unit(k + 1) <= 0xDFFF) {
      append_utf8(out, 0x10000 + ((u - 0xD800) << 10) + (unit(k + 1) - 0xDC00));
      ++k;
    } else {
      append_utf8(out, u);
    }
  }
  return out;
}

// V8 reads 'S' strings as UTF-8 with each invalid byte replaced by U+FFFD.
std::string utf8_replacing_invalid(std::string_view bytes) {
  if (first_invalid_utf8(bytes) == std::string_view::npos) return std::string(bytes);
  std::string out;
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t length = utf8_sequence_length(bytes, i);
    if (length == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(bytes.substr(i, length));
      i += length;
    }
  }
  return out;
}

[[noreturn]] void refuse(const std::string& why) {
  throw error(errc::unencodable_message, "cannot encode the message in advanced serialization: " + why);
}

// ============================================================================================
// Writing
// ============================================================================================

class v8_writer {
 public:
  v8_writer(std::string& out, std::size_t origin, std::size_t max_depth)
      : out_(out), origin_(origin), max_depth_(max_depth) {}

  void document(const json& message) {
    tag(v8_tag::version);
    varint(v8_format_version);
    todo_.push_back(task::value_at(message, 0));
    while (!todo_.empty()) {
      const task t = todo_.back();
      todo_.pop_back();
      switch (t.kind) {
        case task::value: value(*t.json_value, t.level); break;
        case task::key: key(*t.key_text); break;
        case task::index: number_key(t.first); break;
        case task::end:
          out_.push_back(t.tag_byte);
          varint(t.first);
          if (t.two_counts) varint(t.second);
          break;
        case task::byte: out_.push_back(t.tag_byte); break;
      }
    }
  }

 private:
  // What is left to write, last first.
  struct task {
    enum kind_type : std::uint8_t { value, key, index, end, byte } kind;
    char tag_byte = 0;
    bool two_counts = false;
    std::uint32_t first = 0, second = 0;
    std::size_t level = 0;  // of a value: how many json containers enclose it
    const json* json_value = nullptr;
    const std::string* key_text = nullptr;

    static task value_at(const json& v, std::size_t level) { return {value, 0, false, 0, 0, level, &v, nullptr}; }
    static task key_of(const std::string& k) { return {key, 0, false, 0, 0, 0, nullptr, &k}; }
    static task index_of(std::uint32_t i) { return {index, 0, false, i, 0, 0, nullptr, nullptr}; }
    static task end_with(char t, std::uint32_t n) { return {end, t, false, n, 0, 0, nullptr, nullptr}; }
    static task end_with(char t, std::uint32_t n, std::uint32_t m) { return {end, t, true, n, m, 0, nullptr, nullptr}; }
    static task single(char t) { return {byte, t, false, 0, 0, 0, nullptr, nullptr}; }
  };

  void tag(v8_tag t) { out_.push_back(static_cast<char>(t)); }

  void varint(std::uint64_t n) {
    do {
      const auto low = static_cast<unsigned char>(n & 0x7F);
      n >>= 7;
      out_.push_back(static_cast<char>(n != 0 ? low | 0x80 : low));
    } while (n != 0);
  }

  static std::size_t varint_size(std::uint64_t n) noexcept {
    std::size_t size = 1;
    while (n >>= 7) ++size;
    return size;
  }

  void zigzag(std::int32_t n) {
    varint((static_cast<std::uint32_t>(n) << 1) ^ static_cast<std::uint32_t>(n >> 31));
  }

  void raw_double(double d) {
    char bytes[sizeof d];
    std::memcpy(bytes, &d, sizeof d);  // host byte order, as V8 writes it
    out_.append(bytes, sizeof d);
  }

  static std::uint32_t length32(std::size_t n, const char* what) {
    if (n > UINT32_MAX) refuse(std::string(what) + " of " + std::to_string(n) + " bytes: V8's lengths stop at 4 GiB");
    return static_cast<std::uint32_t>(n);
  }

  // A container (array or object of json) that opens at level: it must fit max_depth.
  void enter(std::size_t level) const {
    if (level >= max_depth_) throw_too_deep_to_encode(max_depth_);
  }

  void number(const json& v) {
    if (v.is_number_integer()) {
      const bool is_int32 = v.is_number_unsigned() ? v.get<std::uint64_t>() <= INT32_MAX
                                                   : v.get<std::int64_t>() >= INT32_MIN && v.get<std::int64_t>() <= INT32_MAX;
      if (is_int32) {
        tag(v8_tag::int32);
        return zigzag(static_cast<std::int32_t>(v.get<std::int64_t>()));
      }
    }
    tag(v8_tag::double_value);
    raw_double(v.get<double>());
  }

  // A string in V8's one-byte form when every code point is at most U+00FF, else two-byte.
  void string(std::string_view s) {
    const std::size_t ascii = first_non_ascii(s);
    if (ascii == std::string_view::npos) {  // the common case: one pass, one copy
      tag(v8_tag::one_byte_string);
      varint(length32(s.size(), "a string"));
      out_.append(s);
      return;
    }
    std::size_t units = ascii;
    std::uint32_t highest = 0;
    for (std::size_t i = ascii; i < s.size();) {
      std::uint32_t code_point = 0;
      const std::size_t length = wtf8_sequence(s, i, code_point);
      if (length == 0) refuse("a string holds invalid UTF-8 at byte " + std::to_string(i));
      highest = std::max(highest, code_point);
      units += code_point >= 0x10000 ? 2 : 1;
      i += length;
    }
    if (highest <= 0xFF) {
      tag(v8_tag::one_byte_string);
      varint(length32(units, "a string"));
      out_.append(s.substr(0, ascii));
      for (std::size_t i = ascii; i < s.size();) {
        std::uint32_t code_point = 0;
        i += wtf8_sequence(s, i, code_point);
        out_.push_back(static_cast<char>(code_point));
      }
      return;
    }
    const std::uint32_t byte_length = length32(2 * units, "a string");
    // V8 aligns two-byte data to an even offset from its buffer's start, with a padding tag.
    if ((out_.size() - origin_ + 1 + varint_size(byte_length)) % 2 != 0) tag(v8_tag::padding);
    tag(v8_tag::two_byte_string);
    varint(byte_length);
    const auto unit = [&](std::uint32_t u) {
      const auto code_unit = static_cast<std::uint16_t>(u);
      char bytes[2];
      std::memcpy(bytes, &code_unit, 2);  // host byte order, as V8 writes it
      out_.append(bytes, 2);
    };
    for (std::size_t i = 0; i < ascii; ++i) unit(static_cast<unsigned char>(s[i]));
    for (std::size_t i = ascii; i < s.size();) {
      std::uint32_t code_point = 0;
      i += wtf8_sequence(s, i, code_point);
      if (code_point >= 0x10000) {
        unit(0xD800 + ((code_point - 0x10000) >> 10));
        unit(0xDC00 + ((code_point - 0x10000) & 0x3FF));
      } else {
        unit(code_point);
      }
    }
  }

  // An object's key: an array index as a number, as V8 writes one; anything else a string.
  void key(const std::string& k) {
    if (const auto index = array_index(k)) return number_key(*index);
    string(k);
  }

  void number_key(std::uint32_t index) {
    if (index <= INT32_MAX) {
      tag(v8_tag::int32);
      zigzag(static_cast<std::int32_t>(index));
    } else {
      tag(v8_tag::double_value);
      raw_double(index);
    }
  }

  void bigint_body(const json& digits, const char* where) {
    if (!digits.is_string()) refuse(std::string(where) + " takes a string of decimal digits");
    std::string_view text = digits.get_ref<const std::string&>();
    const bool negative = text.starts_with('-');
    if (negative) text.remove_prefix(1);
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
      refuse(std::string(where) + " takes decimal digits with an optional \"-\", not \"" +
             digits.get_ref<const std::string&>().substr(0, 40) + "\"");
    const auto magnitude = limbs_of(text);
    if (!magnitude) refuse("a BigInt of more than " + std::to_string(v8_max_bigint_bits) + " bits");
    const std::size_t bytes = (magnitude->size() + 1) / 2 * 8;  // whole 64-bit digits, as V8 writes
    varint((magnitude->empty() ? 0 : std::uint64_t{negative}) | bytes << 1);
    for (std::size_t i = 0; i < bytes / 4; ++i) {
      const std::uint32_t limb = i < magnitude->size() ? (*magnitude)[i] : 0;
      for (int b = 0; b < 4; ++b) out_.push_back(static_cast<char>(limb >> (8 * b)));  // little-endian
    }
  }

  void binary(const json::binary_t& bytes) {
    const auto kind = advanced::kind_of(bytes);
    if (!kind)
      refuse("a binary value's subtype " + std::to_string(bytes.subtype()) +
             " names no JavaScript object (see forkipc::advanced::binary_kind)");
    const std::uint32_t length = length32(bytes.size(), "a binary value");
    if (*kind == binary_kind::array_buffer) {
      tag(v8_tag::array_buffer);
    } else {
      if (length % advanced::element_size(*kind) != 0)
        refuse("a typed array (subtype " + std::to_string(static_cast<int>(*kind)) + ") of " +
               std::to_string(length) + " bytes, which are not whole elements of " +
               std::to_string(advanced::element_size(*kind)));
      tag(v8_tag::host_object);
      varint(host_array_buffer_view);
      varint(static_cast<std::uint8_t>(*kind));
    }
    varint(length);
    out_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }

  // The elements of items (holes among them or not), then properties, at level (of each value).
  void array(const json::array_t& items, const json::object_t* properties, std::size_t level) {
    const std::uint32_t length = length32(items.size(), "an array");
    const std::uint32_t named = properties ? length32(properties->size(), "an array's properties") : 0;
    const auto is_hole = [](const json& v) { return advanced::tagged(v, tags::hole) != nullptr; };
    const std::size_t holes = static_cast<std::size_t>(std::count_if(items.begin(), items.end(), is_hole));
    for (const json& v : items)
      if (const json* content = advanced::tagged(v, tags::hole); content && !content->is_null())
        refuse("{\"$hole\": null} takes null");
    tag(holes > 0 ? v8_tag::begin_sparse_array : v8_tag::begin_dense_array);
    varint(length);
    if (holes > 0) {
      todo_.push_back(task::end_with('@', static_cast<std::uint32_t>(length - holes + named), length));
    } else {
      todo_.push_back(task::end_with('$', named, length));
    }
    if (properties) {
      for (auto it = properties->rbegin(); it != properties->rend(); ++it) {
        if (array_index(it->first))
          refuse("an array's property \"" + it->first + "\" is an index: it belongs among the items");
        todo_.push_back(task::value_at(it->second, level));
        todo_.push_back(task::key_of(it->first));
      }
    }
    for (std::size_t i = items.size(); i-- > 0;) {
      if (holes > 0 && is_hole(items[i])) continue;
      todo_.push_back(task::value_at(items[i], level));
      if (holes > 0) todo_.push_back(task::index_of(static_cast<std::uint32_t>(i)));
    }
  }

  void plain_object(const json::object_t& members, std::size_t level) {
    tag(v8_tag::begin_object);
    todo_.push_back(task::end_with('{', length32(members.size(), "an object")));
    for (auto it = members.rbegin(); it != members.rend(); ++it) {
      todo_.push_back(task::value_at(it->second, level));
      todo_.push_back(task::key_of(it->first));
    }
  }

  // An object member's string value, checked.
  static const std::string* text_member(const json::object_t& o, const char* name, const char* form) {
    const auto it = o.find(name);
    if (it == o.end()) return nullptr;
    if (!it->second.is_string()) refuse(std::string(form) + "'s \"" + name + "\" must be a string");
    return &it->second.get_ref<const std::string&>();
  }

  static void only_members(const json& o, std::initializer_list<std::string_view> allowed, const char* form) {
    if (!o.is_object()) refuse(std::string(form) + " takes an object");
    for (const auto& [name, v] : o.get_ref<const json::object_t&>())
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
        refuse(std::string(form) + " has no member \"" + name + "\"");
  }

  // A tagged form (the object's only key is reserved), at level.
  void tagged(std::string_view name, const json& content, std::size_t level) {
    if (name == tags::undefined) {
      if (!content.is_null()) refuse("{\"$undefined\": null} takes null");
      return tag(v8_tag::undefined);
    }
    if (name == tags::hole) refuse("{\"$hole\": null} stands for a missing element: only an array's element can be one");
    if (name == tags::bigint) {
      tag(v8_tag::bigint);
      return bigint_body(content, "$bigint");
    }
    if (name == tags::date) {
      if (!content.is_number()) refuse("$date takes a number of milliseconds");
      tag(v8_tag::date);
      return raw_double(content.get<double>());
    }
    if (name == tags::regexp) return regexp(content, level);
    if (name == tags::map) {
      enter(level + 1);
      if (!content.is_array()) refuse("$map takes an array of [key, value] pairs");
      const auto& entries = content.get_ref<const json::array_t&>();
      tag(v8_tag::begin_map);
      todo_.push_back(task::end_with(':', length32(2 * entries.size(), "a Map")));
      for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
        if (!it->is_array() || it->size() != 2) refuse("$map takes an array of [key, value] pairs");
        enter(level + 2);
        todo_.push_back(task::value_at((*it)[1], level + 3));
        todo_.push_back(task::value_at((*it)[0], level + 3));
      }
      return;
    }
    if (name == tags::set) {
      enter(level + 1);
      if (!content.is_array()) refuse("$set takes an array of values");
      const auto& values = content.get_ref<const json::array_t&>();
      tag(v8_tag::begin_set);
      todo_.push_back(task::end_with(',', length32(values.size(), "a Set")));
      for (auto it = values.rbegin(); it != values.rend(); ++it) todo_.push_back(task::value_at(*it, level + 2));
      return;
    }
    if (name == tags::error) return error_object(content, level);
    if (name == tags::boxed) return boxed(content, level);
    if (name == tags::array) {
      enter(level + 1);
      only_members(content, {"items", "properties"}, "$array");
      const auto items = content.find("items");
      const auto properties = content.find("properties");
      if (items == content.end() || !items->is_array() || properties == content.end() || !properties->is_object())
        refuse("$array takes {\"items\": [...], \"properties\": {...}}");
      enter(level + 2);
      return array(items->get_ref<const json::array_t&>(), &properties->get_ref<const json::object_t&>(), level + 3);
    }
    // tags::object
    if (!content.is_object()) refuse("$object takes an object");
    enter(level + 1);
    plain_object(content.get_ref<const json::object_t&>(), level + 2);
  }

  void regexp(const json& content, std::size_t level) {
    enter(level + 1);
    only_members(content, {"source", "flags"}, "$regexp");
    const auto& members = content.get_ref<const json::object_t&>();
    const std::string* source = text_member(members, "source", "$regexp");
    const std::string* flags = text_member(members, "flags", "$regexp");
    if (source == nullptr) refuse("$regexp takes {\"source\": ..., \"flags\": ...}");
    std::uint32_t bits = 0;
    for (char letter : flags ? std::string_view(*flags) : std::string_view()) {
      const auto* flag = std::find_if(std::begin(regexp_flags), std::end(regexp_flags),
                                      [&](const regexp_flag& f) { return f.letter == letter; });
      if (flag == std::end(regexp_flags) || (bits & flag->bit) != 0)
        refuse("$regexp's flags \"" + *flags + "\" are not distinct letters of \"dgimsuvy\"");
      bits |= flag->bit;
    }
    if ((bits & regexp_unicode) != 0 && (bits & regexp_unicode_sets) != 0)
      refuse("$regexp's flags \"" + *flags + "\" hold both u and v, which JavaScript refuses");
    tag(v8_tag::regexp);
    string(*source);
    varint(bits);
  }

  void error_object(const json& content, std::size_t level) {
    enter(level + 1);
    only_members(content, {"name", "message", "stack", "cause"}, "$error");
    const auto& members = content.get_ref<const json::object_t&>();
    tag(v8_tag::error);
    if (const std::string* name = text_member(members, "name", "$error")) {
      for (const auto& prototype : error_prototypes)
        if (*name == prototype.name) out_.push_back(prototype.subtag);
    }
    if (const std::string* message = text_member(members, "message", "$error")) {
      out_.push_back(error_message);
      string(*message);
    }
    // The stack before the cause: Node 22 and later read them in that order only.
    if (const std::string* stack = text_member(members, "stack", "$error")) {
      out_.push_back(error_stack);
      string(*stack);
    }
    const auto cause = members.find("cause");
    if (cause == members.end()) {
      out_.push_back(error_end);
      return;
    }
    out_.push_back(error_cause);
    todo_.push_back(task::single(error_end));
    todo_.push_back(task::value_at(cause->second, level + 2));
  }

  void boxed(const json& content, std::size_t level) {
    switch (content.type()) {
      case json::value_t::boolean:
        return tag(content.get<bool>() ? v8_tag::true_object : v8_tag::false_object);
      case json::value_t::number_integer:
      case json::value_t::number_unsigned:
      case json::value_t::number_float:
        tag(v8_tag::number_object);
        return raw_double(content.get<double>());
      case json::value_t::string:
        tag(v8_tag::string_object);
        return string(content.get_ref<const std::string&>());
      default:
        if (const json* digits = advanced::tagged(content, tags::bigint)) {
          enter(level + 1);
          tag(v8_tag::bigint_object);
          return bigint_body(*digits, "$boxed's $bigint");
        }
        refuse("$boxed takes a number, a string, a boolean or a {\"$bigint\": ...}");
    }
  }

  void value(const json& v, std::size_t level) {
    switch (v.type()) {
      case json::value_t::null: return tag(v8_tag::null);
      case json::value_t::boolean: return tag(v.get<bool>() ? v8_tag::true_value : v8_tag::false_value);
      case json::value_t::number_integer:
      case json::value_t::number_unsigned:
      case json::value_t::number_float: return number(v);
      case json::value_t::string: return string(v.get_ref<const std::string&>());
      case json::value_t::binary: return binary(v.get_binary());
      case json::value_t::array:
        enter(level);
        return array(v.get_ref<const json::array_t&>(), nullptr, level + 1);
      case json::value_t::object: {
        enter(level);
        const auto& members = v.get_ref<const json::object_t&>();
        if (members.size() == 1 && advanced::is_reserved(members.begin()->first))
          return tagged(members.begin()->first, members.begin()->second, level);
        return plain_object(members, level + 1);
      }
      case json::value_t::discarded: break;
    }
    refuse("a discarded json value");
  }

  std::string& out_;
  std::size_t origin_;
  std::size_t max_depth_;
  std::vector<task> todo_;
};

// ============================================================================================
// Reading
// ============================================================================================

// Integers as nlohmann's own readers make them (and the other codecs): non-negative ones
// unsigned, negative ones signed.
json integer_value(std::int64_t n) {
  if (n >= 0) return static_cast<std::uint64_t>(n);
  return n;
}

// A double that is an integer JavaScript holds exactly (not -0) reads as an integer.
json number_value(double d) {
  if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= two_to_53 && !(d == 0 && std::signbit(d)))
    return integer_value(static_cast<std::int64_t>(d));
  return d;
}

std::int32_t from_zigzag(std::uint32_t n) noexcept { return static_cast<std::int32_t>((n >> 1) ^ (0u - (n & 1))); }

// The json value an object read earlier became, which a reference ('^') copies. Its payload
// (the object, array or binary a json value points to) stays where it is while the json value
// around it moves, as containers grow; a value of another kind is kept aside.
struct read_object {
  enum class shape : std::uint8_t { pending, object, array, binary, kept } kind = shape::pending;
  const void* payload = nullptr;
  std::size_t height = 0;  // its json nesting: 0 for a binary value
  std::size_t cost = 0;
  bool array_buffer = false;  // an ArrayBuffer, which a view ('V') may follow
  bool resizable = false;
};

class v8_reader {
 public:
  v8_reader(std::string_view bytes, const v8_read_limits& limits, binary_spares* spares)
      : begin_(reinterpret_cast<const std::uint8_t*>(bytes.data())),
        p_(begin_),
        end_(begin_ + bytes.size()),
        limits_(limits),
        spares_(spares) {}

  std::optional<v8_read_error> document(json& out) {
    if (!header() || !begin(out, 0)) return failure();
    while (!stack_.empty())
      if (!step()) return failure();
    return std::nullopt;
  }

 private:
  static constexpr std::size_t no_id = SIZE_MAX;

  // An object, array, Map, Set, Error or host object whose contents are being read.
  enum class frame_kind : std::uint8_t { object, dense_array, sparse_array, map, map_entry, set, error, host };
  struct frame {
    frame_kind kind;
    json* slot;                // where the value goes: it stays put while its contents are read
    json* target;              // the container its contents go into
    std::size_t level;         // json containers around slot
    std::size_t id;            // in objects_, or no_id
    std::size_t cost_at_start;
    std::size_t height = 0;    // the highest of its contents so far
    std::uint32_t count = 0;   // properties, entries or values read
    std::uint32_t length = 0;  // of an array
    std::uint32_t elements = 0;  // of an array: read (dense) or given by index (sparse)
    bool cause_read = false;   // of an Error
    json properties{};         // of an array: its properties that are not elements
  };

  // ---- failures ----

  bool fail(std::string why, errc code = errc::malformed_message) {
    if (!failed_) {
      failed_ = true;
      why_ = std::move(why);
      code_ = code;
      at_ = static_cast<std::size_t>(p_ - begin_);
    }
    return false;
  }
  bool truncated(const char* what) { return fail(std::string("the bytes end inside ") + what); }
  v8_read_error failure() { return {code_, std::move(why_), at_}; }

  static std::string byte_text(std::uint8_t b) {
    char text[8];
    if (b >= 0x20 && b < 0x7F) {
      std::snprintf(text, sizeof text, "'%c'", b);
    } else {
      std::snprintf(text, sizeof text, "0x%02x", b);
    }
    return text;
  }

  // ---- the primitives of the format ----

  std::size_t left() const noexcept { return static_cast<std::size_t>(end_ - p_); }

  bool byte(std::uint8_t& b) {
    if (p_ == end_) return false;
    b = *p_++;
    return true;
  }

  bool varint(std::uint32_t& n, const char* what) {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      std::uint8_t b;
      if (!byte(b)) return truncated(what);
      value |= std::uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) {
        if (value > UINT32_MAX) return fail(std::string(what) + " does not fit 32 bits");
        n = static_cast<std::uint32_t>(value);
        return true;
      }
    }
    return fail(std::string(what) + " is a varint of more than 5 bytes");
  }

  bool raw_double(double& d) {
    if (left() < sizeof d) return truncated("a double");
    std::memcpy(&d, p_, sizeof d);  // host byte order, as V8 writes it
    p_ += sizeof d;
    if (std::isnan(d)) d = std::numeric_limits<double>::quiet_NaN();
    return true;
  }

  bool raw(std::size_t n, std::string_view& out, const char* what) {
    if (n > left())
      return fail(std::string(what) + " of " + std::to_string(n) + " bytes where " + std::to_string(left()) +
                  " are left");
    out = {reinterpret_cast<const char*>(p_), n};
    p_ += n;
    return true;
  }

  // The next tag, past padding and V8's old object counts ('?' n).
  bool next_tag(std::uint8_t& t) {
    for (;;) {
      if (!byte(t)) return false;
      if (t == static_cast<std::uint8_t>(v8_tag::padding)) continue;
      if (t == static_cast<std::uint8_t>(v8_tag::verify_object_count)) {
        std::uint32_t ignored;
        if (!varint(ignored, "an object count")) return false;
        continue;
      }
      return true;
    }
  }

  // Whether the next tag, past padding, is t; consumes it if so.
  bool next_is(v8_tag t) {
    const std::uint8_t* q = p_;
    while (q != end_ && *q == 0) ++q;
    if (q == end_ || *q != static_cast<std::uint8_t>(t)) return false;
    p_ = q + 1;
    return true;
  }

  bool header() {
    std::uint8_t t = 0;
    if (!byte(t) || t != static_cast<std::uint8_t>(v8_tag::version)) {
      p_ = begin_;
      return fail("no version header (0xff, then the format's version): this is not V8's format");
    }
    if (!varint(version_, "the format version")) return false;
    if (version_ < v8_oldest_version || version_ > v8_format_version)
      return fail("format version " + std::to_string(version_) + ", where forkipc reads " +
                  std::to_string(v8_oldest_version) + " to " + std::to_string(v8_format_version));
    return true;
  }

  // ---- limits ----

  bool charge(std::size_t units) {
    cost_ += units;
    if (cost_ <= limits_.max_cost) return true;
    return fail("it expands to more than " + std::to_string(limits_.max_cost) +
                    " values and bytes (shared references count what they copy, sparse arrays their holes)",
                errc::message_too_large);
  }

  // A value of json height `height` at level: within max_depth?
  bool fits(std::size_t level, std::size_t height) {
    if (level + height <= limits_.max_depth) return true;
    return fail("nested more than " + std::to_string(limits_.max_depth) + " levels deep (max_nesting_depth)",
                errc::nesting_too_deep);
  }

  // ---- strings ----

  static bool is_string_tag(std::uint8_t t) noexcept {
    return t == static_cast<std::uint8_t>(v8_tag::one_byte_string) ||
           t == static_cast<std::uint8_t>(v8_tag::two_byte_string) ||
           t == static_cast<std::uint8_t>(v8_tag::utf8_string);
  }

  // The string whose tag t was read.
  bool string_of(std::uint8_t t, std::string& out) {
    std::uint32_t length;
    std::string_view bytes;
    if (!varint(length, "a string's length")) return false;
    if (t == static_cast<std::uint8_t>(v8_tag::two_byte_string) && length % 2 != 0)
      return fail("a two-byte string of an odd " + std::to_string(length) + " bytes");
    if (!raw(length, bytes, "a string")) return false;
    switch (static_cast<v8_tag>(t)) {
      case v8_tag::one_byte_string: out = latin1_to_utf8(bytes); break;
      case v8_tag::two_byte_string: out = utf16_to_wtf8(bytes); break;
      default: out = utf8_replacing_invalid(bytes); break;
    }
    return charge(1 + out.size());
  }

  // A value that must be a string (a RegExp's source, an Error's message).
  bool string_value(std::string& out, const char* what) {
    std::uint8_t t;
    if (!next_tag(t)) return truncated(what);
    if (!is_string_tag(t)) {
      --p_;
      return fail(std::string(what) + " that is not a string (tag " + byte_text(t) + ")");
    }
    return string_of(t, out);
  }

  // An object's key: a string, or a number, which becomes its text as JavaScript writes it.
  bool key(std::string& out) {
    std::uint8_t t;
    if (!next_tag(t)) return truncated("an object");
    if (is_string_tag(t)) return string_of(t, out);
    std::uint32_t n;
    double d;
    switch (static_cast<v8_tag>(t)) {
      case v8_tag::int32:
        if (!varint(n, "a key")) return false;
        out = std::to_string(from_zigzag(n));
        break;
      case v8_tag::uint32:
        if (!varint(n, "a key")) return false;
        out = std::to_string(n);
        break;
      case v8_tag::double_value:
        if (!raw_double(d)) return false;
        out = js_number_text(d);
        break;
      default:
        --p_;
        return fail("a key of tag " + byte_text(t) + ", neither a string nor a number");
    }
    return charge(out.size());
  }

  // ---- objects read, and references to them ----

  std::size_t new_id() {
    objects_.emplace_back();
    return objects_.size() - 1;
  }

  // Object id is read: slot holds its json value, of height height, which cost what was
  // charged since cost_at_start.
  void record(std::size_t id, json& slot, std::size_t height, std::size_t cost_at_start) {
    if (id == no_id) return;
    read_object& o = objects_[id];
    o.height = height;
    o.cost = cost_ - cost_at_start;
    switch (slot.type()) {
      case json::value_t::object:
        o.kind = read_object::shape::object;
        o.payload = slot.get_ptr<json::object_t*>();
        break;
      case json::value_t::array:
        o.kind = read_object::shape::array;
        o.payload = slot.get_ptr<json::array_t*>();
        break;
      case json::value_t::binary:
        o.kind = read_object::shape::binary;
        o.payload = slot.get_ptr<json::binary_t*>();
        break;
      default:  // a host object holding a primitive: only a hostile peer writes one
        kept_.push_back(slot);
        o.kind = read_object::shape::kept;
        o.payload = &kept_.back();
        break;
    }
  }

  static json copy_of(const read_object& o) {
    switch (o.kind) {
      case read_object::shape::object: return json(*static_cast<const json::object_t*>(o.payload));
      case read_object::shape::array: return json(*static_cast<const json::array_t*>(o.payload));
      case read_object::shape::binary: return json(*static_cast<const json::binary_t*>(o.payload));
      default: return *static_cast<const json*>(o.payload);
    }
  }

  // '^': a copy of an object read before.
  bool reference(json& slot, std::size_t level) {
    std::uint32_t id;
    if (!varint(id, "a reference")) return false;
    if (id >= objects_.size())
      return fail("a reference to object " + std::to_string(id) + " where " + std::to_string(objects_.size()) +
                  " were read");
    const read_object& o = objects_[id];
    if (o.kind == read_object::shape::pending)
      return fail("a cyclic value: object " + std::to_string(id) + " holds a reference to itself, which JSON cannot carry");
    if (o.array_buffer && next_is(v8_tag::array_buffer_view))
      return view(slot, *static_cast<const json::binary_t*>(o.payload), o.resizable);
    if (!fits(level, o.height) || !charge(o.cost)) return false;
    slot = copy_of(o);
    return done(o.height);
  }

  // ---- binary values ----

  json binary_value(const void* data, std::size_t size, binary_kind kind) {
    const std::span<const std::uint8_t> view(static_cast<const std::uint8_t*>(data), size);
    json::binary_t::container_type bytes = spares_ ? spares_->filled(view) : json::binary_t::container_type(view.begin(), view.end());
    if (kind == binary_kind::buffer) return json::binary(std::move(bytes));
    return json::binary(std::move(bytes), static_cast<std::uint8_t>(kind));
  }

  // 'B' or '~' (resizable), read: an ArrayBuffer, or a view of it when 'V' follows.
  bool array_buffer(json& slot, bool resizable) {
    const std::size_t start = cost_;
    const std::size_t id = new_id();
    std::uint32_t length, max_length = 0;
    std::string_view bytes;
    if (!varint(length, "an ArrayBuffer's length")) return false;
    if (resizable) {
      if (!varint(max_length, "an ArrayBuffer's maximum length")) return false;
      if (length > max_length) return fail("a resizable ArrayBuffer longer than its maximum length");
    }
    if (!raw(length, bytes, "an ArrayBuffer") || !charge(1 + std::size_t{length})) return false;
    slot = binary_value(bytes.data(), bytes.size(), binary_kind::array_buffer);
    record(id, slot, 0, start);
    objects_[id].array_buffer = true;
    objects_[id].resizable = resizable;
    if (!next_is(v8_tag::array_buffer_view)) return done(0);
    // V8's own form of a view: its buffer, then the view, which is what the value is.
    kept_.push_back(std::move(slot));
    return view(slot, *kept_.back().get_ptr<const json::binary_t*>(), resizable);
  }

  // 'V' (read) after an ArrayBuffer: a view of part of buffer.
  bool view(json& slot, const json::binary_t& buffer, bool resizable) {
    const std::size_t start = cost_;
    std::uint32_t subtag, offset, length, flags = 0;
    if (!varint(subtag, "a view's type") || !varint(offset, "a view's offset") || !varint(length, "a view's length"))
      return false;
    if (offset > buffer.size() || length > buffer.size() - offset)
      return fail("a view of bytes " + std::to_string(offset) + " to " + std::to_string(std::uint64_t{offset} + length) +
                  " of an ArrayBuffer of " + std::to_string(buffer.size()));
    if (version_ >= 14 && !varint(flags, "a view's flags")) return false;
    if ((flags & ~(view_length_tracking | view_backed_by_resizable)) != 0 ||
        ((flags & view_backed_by_resizable) != 0) != resizable || ((flags & view_length_tracking) != 0 && !resizable))
      return fail("a view whose flags " + std::to_string(flags) + " do not match its ArrayBuffer");
    const auto* kind = std::find_if(std::begin(view_subtags), std::end(view_subtags), [&](const view_subtag& v) {
      return static_cast<std::uint32_t>(static_cast<unsigned char>(v.subtag)) == subtag;
    });
    if (kind == std::end(view_subtags)) return fail("a view of the unknown type " + std::to_string(subtag));
    const std::size_t size = advanced::element_size(kind->kind);
    if (offset % size != 0 || length % size != 0)
      return fail("a typed array at byte " + std::to_string(offset) + " of " + std::to_string(length) +
                  " bytes, not whole elements of " + std::to_string(size));
    const std::size_t id = new_id();
    if (!charge(1 + std::size_t{length})) return false;
    slot = binary_value(buffer.data() + offset, length, kind->kind);
    record(id, slot, 0, start);
    return done(0);
  }

  // '\\': one of Node's host objects, a view's bytes or the copy of another object.
  bool host_object(json& slot, std::size_t level, std::size_t start) {
    const std::size_t id = new_id();
    std::uint32_t which;
    if (!varint(which, "a host object's kind")) return false;
    if (which == host_other_object) return open(frame_kind::host, slot, slot, level, id, start);
    if (which != host_array_buffer_view)
      return fail("a host object of kind " + std::to_string(which) + ", neither a view (0) nor another object (1)");
    std::uint32_t index, length;
    std::string_view bytes;
    if (!varint(index, "a view's type") || !varint(length, "a view's length")) return false;
    const auto kind = index == static_cast<std::uint32_t>(binary_kind::array_buffer) ? std::nullopt
                                                                                   : advanced::binary_kind_of(index);
    if (!kind) {
      p_ -= 1;
      return fail("a view of Node's unknown type " + std::to_string(index));
    }
    if (!raw(length, bytes, "a view")) return false;
    if (length % advanced::element_size(*kind) != 0)
      return fail("a typed array (type " + std::to_string(index) + ") of " + std::to_string(length) +
                  " bytes, not whole elements of " + std::to_string(advanced::element_size(*kind)));
    if (!charge(1 + std::size_t{length})) return false;
    slot = binary_value(bytes.data(), bytes.size(), *kind);
    record(id, slot, 0, start);
    return done(0);
  }

  // ---- values ----

  // A value without contents to read is done: the container reading it takes its height.
  bool done(std::size_t height) {
    if (!stack_.empty()) stack_.back().height = std::max(stack_.back().height, height);
    return true;
  }

  // {name: content} in slot, of height height (1 plus content's).
  bool tagged_scalar(json& slot, std::size_t level, std::string_view name, json content, std::size_t height,
                     std::size_t id, std::size_t start) {
    if (!fits(level, height) || !charge(2)) return false;
    slot = json::object();
    slot.get_ref<json::object_t&>().emplace(std::string(name), std::move(content));
    record(id, slot, height, start);
    return done(height);
  }

  // Opens a container: step() reads its contents until it ends.
  bool open(frame_kind kind, json& slot, json& target, std::size_t level, std::size_t id, std::size_t start) {
    stack_.push_back(frame{kind, &slot, &target, level, id, start});
    return true;
  }

  bool too_big_bigint() {
    return fail("a BigInt of more than " + std::to_string(v8_max_bigint_bits) +
                    " bits, the most forkipc converts to decimal digits",
                errc::message_too_large);
  }

  bool bigint(std::string& decimal) {
    std::uint32_t bitfield;
    std::string_view digits;
    if (!varint(bitfield, "a BigInt's size")) return false;
    const std::size_t length = (bitfield >> 1) & 0x3FFFFFFF;  // V8's bytes of digits
    if (length > v8_max_bigint_bits / 8 + 8) return too_big_bigint();
    if (!raw(length, digits, "a BigInt")) return false;
    limbs n((length + 3) / 4, 0);
    for (std::size_t i = 0; i < length; ++i)
      n[i / 4] |= std::uint32_t{static_cast<unsigned char>(digits[i])} << (8 * (i % 4));
    trim(n);
    if (!n.empty() && (n.size() - 1) * 32 + static_cast<std::size_t>(std::bit_width(n.back())) > v8_max_bigint_bits)
      return too_big_bigint();
    decimal = decimal_of(std::move(n), (bitfield & 1) != 0);
    return charge(decimal.size());
  }

  bool regexp(json& slot, std::size_t level, std::size_t id, std::size_t start) {
    std::string source;
    std::uint32_t bits;
    if (!string_value(source, "a RegExp's source") || !varint(bits, "a RegExp's flags")) return false;
    std::string flags;
    std::uint32_t known = 0;
    for (const auto& flag : regexp_flags) {
      known |= flag.bit;
      if ((bits & flag.bit) != 0) flags.push_back(flag.letter);
    }
    if ((bits & ~known) != 0 || ((bits & regexp_unicode) != 0 && (bits & regexp_unicode_sets) != 0))
      return fail("a RegExp with the flags " + std::to_string(bits) + ", which JavaScript refuses");
    if (!charge(2 + flags.size())) return false;
    json content = json::object();
    content["source"] = std::move(source);
    content["flags"] = std::move(flags);
    return tagged_scalar(slot, level, tags::regexp, std::move(content), 2, id, start);
  }

  // Reads one value into slot, at level: a value without contents whole, a container opened.
  bool begin(json& slot, std::size_t level) {
    const std::size_t start = cost_;
    std::uint8_t t;
    if (!next_tag(t)) return truncated("a value");
    if (is_string_tag(t)) {
      std::string text;
      if (!string_of(t, text)) return false;
      slot = std::move(text);
      return done(0);
    }
    std::uint32_t n;
    double d;
    std::string text;
    switch (static_cast<v8_tag>(t)) {
      case v8_tag::null: slot = nullptr; return charge(1) && done(0);
      case v8_tag::true_value: slot = true; return charge(1) && done(0);
      case v8_tag::false_value: slot = false; return charge(1) && done(0);
      case v8_tag::undefined: return tagged_scalar(slot, level, tags::undefined, nullptr, 1, no_id, start);
      case v8_tag::int32:
        if (!varint(n, "an integer")) return false;
        slot = integer_value(from_zigzag(n));
        return charge(1) && done(0);
      case v8_tag::uint32:
        if (!varint(n, "an integer")) return false;
        slot = integer_value(n);
        return charge(1) && done(0);
      case v8_tag::double_value:
        if (!raw_double(d)) return false;
        slot = number_value(d);
        return charge(1) && done(0);
      case v8_tag::bigint:
        return bigint(text) && tagged_scalar(slot, level, tags::bigint, std::move(text), 1, no_id, start);
      case v8_tag::date:
        if (!raw_double(d)) return false;
        return tagged_scalar(slot, level, tags::date, number_value(d), 1, new_id(), start);
      case v8_tag::true_object:
      case v8_tag::false_object:
        return tagged_scalar(slot, level, tags::boxed, t == static_cast<std::uint8_t>(v8_tag::true_object), 1,
                             new_id(), start);
      case v8_tag::number_object: {
        const std::size_t id = new_id();
        return raw_double(d) && tagged_scalar(slot, level, tags::boxed, number_value(d), 1, id, start);
      }
      case v8_tag::string_object: {
        const std::size_t id = new_id();
        return string_value(text, "a String object") &&
               tagged_scalar(slot, level, tags::boxed, std::move(text), 1, id, start);
      }
      case v8_tag::bigint_object: {
        const std::size_t id = new_id();
        if (!bigint(text) || !charge(2)) return false;
        json content = json::object();
        content.get_ref<json::object_t&>().emplace(std::string(tags::bigint), std::move(text));
        return tagged_scalar(slot, level, tags::boxed, std::move(content), 2, id, start);
      }
      case v8_tag::regexp: {
        const std::size_t id = new_id();
        return regexp(slot, level, id, start);
      }
      case v8_tag::object_reference: return reference(slot, level);
      case v8_tag::begin_object: {
        const std::size_t id = new_id();
        if (!fits(level, 1) || !charge(1)) return false;
        slot = json::object();
        return open(frame_kind::object, slot, slot, level, id, start);
      }
      case v8_tag::begin_dense_array: {
        if (!varint(n, "an array's length")) return false;
        // Each element takes a byte at least: a length beyond the bytes left is a lie.
        if (n > left()) return fail("an array of " + std::to_string(n) + " elements in " + std::to_string(left()) + " bytes");
        const std::size_t id = new_id();
        if (!fits(level, 1) || !charge(1)) return false;
        slot = json::array();
        slot.get_ref<json::array_t&>().reserve(n);
        open(frame_kind::dense_array, slot, slot, level, id, start);
        stack_.back().length = n;
        return true;
      }
      case v8_tag::begin_sparse_array: {
        if (!varint(n, "an array's length")) return false;
        const std::size_t id = new_id();
        // Every hole is a {"$hole": null}: two values each, made before any element is read.
        if (!fits(level, n > 0 ? 2 : 1) || !charge(1 + 2 * std::size_t{n})) return false;
        slot = json::array_t(n, advanced::hole());
        open(frame_kind::sparse_array, slot, slot, level, id, start);
        stack_.back().length = n;
        return true;
      }
      case v8_tag::begin_map:
      case v8_tag::begin_set:
      case v8_tag::error: {
        const std::size_t id = new_id();
        if (!fits(level, 2) || !charge(2)) return false;
        const auto kind = t == static_cast<std::uint8_t>(v8_tag::begin_map) ? frame_kind::map
                          : t == static_cast<std::uint8_t>(v8_tag::begin_set) ? frame_kind::set
                                                                                : frame_kind::error;
        const std::string_view name = kind == frame_kind::map ? tags::map : kind == frame_kind::set ? tags::set : tags::error;
        slot = json::object();
        json& contents = slot.get_ref<json::object_t&>()
                             .emplace(std::string(name), kind == frame_kind::error ? json::object() : json::array())
                             .first->second;
        return open(kind, slot, contents, level, id, start);
      }
      case v8_tag::array_buffer: return array_buffer(slot, false);
      case v8_tag::resizable_array_buffer: return array_buffer(slot, true);
      case v8_tag::host_object: return host_object(slot, level, start);
      case v8_tag::the_hole: --p_; return fail("a hole ('-') outside an array");
      case v8_tag::shared_array_buffer:
      case v8_tag::shared_object:
      case v8_tag::array_buffer_transfer:
      case v8_tag::wasm_module_transfer:
      case v8_tag::wasm_memory_transfer:
        --p_;
        return fail("a value of tag " + byte_text(t) +
                    " (shared memory, a transferred buffer or WebAssembly), which cannot travel between processes");
      default:
        --p_;
        return fail("the tag " + byte_text(t) + " where a value belongs");
    }
  }

  // ---- containers: one step reads the next of their contents, or ends them ----

  bool step() {
    frame& f = stack_.back();
    switch (f.kind) {
      case frame_kind::object: return object_step(f);
      case frame_kind::dense_array:
        if (f.elements < f.length) return dense_element_step(f);
        return array_property_step(f, v8_tag::end_dense_array);
      case frame_kind::sparse_array: return array_property_step(f, v8_tag::end_sparse_array);
      case frame_kind::map: return map_step(f);
      case frame_kind::map_entry: return map_entry_step(f);
      case frame_kind::set: return set_step(f);
      case frame_kind::error: return error_step(f);
      case frame_kind::host:
        if (f.count++ == 0) return begin(*f.slot, f.level);  // the object it stands for
        return close(f.height);
    }
    return false;
  }

  // The container on top is read: its object records it, and its container takes its height.
  bool close(std::size_t height) {
    const frame& f = stack_.back();
    if (!fits(f.level, height)) return false;
    record(f.id, *f.slot, height, f.cost_at_start);
    stack_.pop_back();
    return done(height);
  }

  // The counts at an end tag, against what was read.
  bool counts_match(std::uint64_t announced, std::uint64_t read, const char* what) {
    if (announced == read) return true;
    return fail(std::string(what) + " announces " + std::to_string(announced) + " where " + std::to_string(read) +
                " were read");
  }

  bool object_step(frame& f) {
    if (next_is(v8_tag::end_object)) {
      std::uint32_t count;
      if (!varint(count, "an object's property count") || !counts_match(count, f.count, "an object's end")) return false;
      std::size_t height = 1 + f.height;
      const auto& members = f.target->get_ref<const json::object_t&>();
      if (members.size() == 1 && advanced::is_reserved(members.begin()->first)) {
        // A plain object that would read as a tagged form: {"$object": it}.
        if (!charge(1)) return false;
        json plain = std::move(*f.slot);
        *f.slot = json::object();
        f.slot->get_ref<json::object_t&>().emplace(std::string(tags::object), std::move(plain));
        ++height;
      }
      return close(height);
    }
    std::string name;
    if (!key(name)) return false;
    auto [member, added] = f.target->get_ref<json::object_t&>().try_emplace(std::move(name));
    if (!added) return fail("the key \"" + member->first + "\" twice in one object");
    ++f.count;
    return begin(member->second, f.level + 1);
  }

  bool dense_element_step(frame& f) {
    ++f.elements;
    json& element = f.target->get_ref<json::array_t&>().emplace_back();  // reserved: nothing moves
    if (next_is(v8_tag::the_hole)) return tagged_scalar(element, f.level + 1, tags::hole, nullptr, 1, no_id, cost_);
    return begin(element, f.level + 1);
  }

  // An array's properties after its elements (dense), or all of its contents (sparse): index
  // keys give elements, others make the array an {"$array": ...}.
  bool array_property_step(frame& f, v8_tag end) {
    if (next_is(end)) {
      std::uint32_t count, length;
      if (!varint(count, "an array's property count") || !varint(length, "an array's length") ||
          !counts_match(count, f.count, "an array's end") || !counts_match(length, f.length, "an array's length at its end"))
        return false;
      std::size_t contents = f.height;
      if (f.kind == frame_kind::sparse_array && f.elements < f.length) contents = std::max<std::size_t>(contents, 1);
      if (f.properties.is_null()) return close(1 + contents);
      if (!charge(3)) return false;
      json form = json::object();
      form["items"] = std::move(*f.slot);
      form["properties"] = std::move(f.properties);
      *f.slot = json::object();
      f.slot->get_ref<json::object_t&>().emplace(std::string(tags::array), std::move(form));
      return close(3 + contents);
    }
    std::string name;
    if (!key(name)) return false;
    ++f.count;
    if (const auto index = array_index(name)) {
      if (*index >= f.length)
        return fail("an element at index " + name + " of an array of length " + std::to_string(f.length));
      json& element = f.target->get_ref<json::array_t&>()[*index];
      if (advanced::tagged(element, tags::hole) == nullptr) return fail("the element at index " + name + " twice");
      if (f.kind == frame_kind::sparse_array) ++f.elements;
      return begin(element, f.level + 1);
    }
    if (f.properties.is_null()) f.properties = json::object();
    auto [member, added] = f.properties.get_ref<json::object_t&>().try_emplace(std::move(name));
    if (!added) return fail("the key \"" + member->first + "\" twice in one array");
    return begin(member->second, f.level + 3);  // in {"$array": {"properties": {...}}}
  }

  bool map_step(frame& f) {
    if (next_is(v8_tag::end_map)) {
      std::uint32_t count;
      if (!varint(count, "a Map's length") || !counts_match(count, 2 * std::uint64_t{f.count}, "a Map's end"))
        return false;
      return close(2 + f.height);
    }
    // The entry, [key, value], at level + 2 in {"$map": [...]}.
    if (!fits(f.level + 2, 1) || !charge(1)) return false;
    ++f.count;
    json& entry = f.target->get_ref<json::array_t&>().emplace_back(json::array());
    entry.get_ref<json::array_t&>().reserve(2);
    return open(frame_kind::map_entry, entry, entry, f.level + 2, no_id, cost_);
  }

  bool map_entry_step(frame& f) {
    auto& entry = f.target->get_ref<json::array_t&>();
    if (entry.size() == 2) return close(1 + f.height);
    return begin(entry.emplace_back(), f.level + 1);  // reserved: nothing moves
  }

  bool set_step(frame& f) {
    if (next_is(v8_tag::end_set)) {
      std::uint32_t count;
      if (!varint(count, "a Set's size") || !counts_match(count, f.count, "a Set's end")) return false;
      return close(2 + f.height);
    }
    ++f.count;
    return begin(f.target->get_ref<json::array_t&>().emplace_back(), f.level + 2);
  }

  bool error_step(frame& f) {
    auto& fields = f.target->get_ref<json::object_t&>();
    for (;;) {
      std::uint8_t subtag;
      if (!byte(subtag)) return truncated("an Error");
      std::string text;
      switch (subtag) {
        case error_message:
        case error_stack:
          if (!string_value(text, subtag == error_message ? "an Error's message" : "an Error's stack")) return false;
          fields[subtag == error_message ? "message" : "stack"] = std::move(text);
          continue;
        case error_cause:
          if (f.cause_read) return fail("an Error with two causes");
          f.cause_read = true;
          return begin(fields["cause"], f.level + 2);
        case error_end:
          return close(2 + f.height);
        default:
          break;
      }
      const auto* prototype = std::find_if(std::begin(error_prototypes), std::end(error_prototypes),
                                           [&](const error_prototype& e) { return e.subtag == static_cast<char>(subtag); });
      if (prototype == std::end(error_prototypes)) {
        --p_;
        return fail("an Error's field of the unknown tag " + byte_text(subtag));
      }
      if (!charge(1 + prototype->name.size())) return false;
      fields["name"] = std::string(prototype->name);
    }
  }

  const std::uint8_t* begin_;
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  v8_read_limits limits_;
  binary_spares* spares_;
  std::uint32_t version_ = 0;
  std::size_t cost_ = 0;
  std::vector<frame> stack_;
  std::vector<read_object> objects_;
  std::deque<json> kept_;  // values that objects_ copies but the message does not hold
  bool failed_ = false;
  std::string why_;
  errc code_ = errc::malformed_message;
  std::size_t at_ = 0;
};

}  // namespace

void write_v8_message(const json& message, std::string& out, std::size_t origin, std::size_t max_depth) {
  v8_writer(out, origin, max_depth).document(message);
}

std::optional<v8_read_error> read_v8_message(std::string_view bytes, json& out, const v8_read_limits& limits,
                                             binary_spares* spares) {
  return v8_reader(bytes, limits, spares).document(out);
}

}  // namespace forkipc::detail
