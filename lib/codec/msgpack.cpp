#include "codec/msgpack.hpp"

#include <bit>
#include <cmath>
#include <cstring>

#include <forkipc/error.hpp>

#include "codec/utf8.hpp"

namespace forkipc::detail {
namespace {

// ---- writing ----

template <class T>
void put_big_endian(std::string& out, T value) {
  const auto bits = static_cast<std::make_unsigned_t<T>>(value);
  char bytes[sizeof(T)];
  for (std::size_t i = 0; i < sizeof(T); ++i)
    bytes[i] = static_cast<char>(bits >> (8 * (sizeof(T) - 1 - i)));
  out.append(bytes, sizeof(T));
}

void put_byte(std::string& out, unsigned byte) { out.push_back(static_cast<char>(byte)); }

void put_unsigned(std::string& out, std::uint64_t v) {
  if (v < 0x80) {
    put_byte(out, static_cast<unsigned>(v));
  } else if (v <= 0xFF) {
    put_byte(out, 0xCC);
    put_byte(out, static_cast<unsigned>(v));
  } else if (v <= 0xFFFF) {
    put_byte(out, 0xCD);
    put_big_endian(out, static_cast<std::uint16_t>(v));
  } else if (v <= 0xFFFFFFFF) {
    put_byte(out, 0xCE);
    put_big_endian(out, static_cast<std::uint32_t>(v));
  } else {
    put_byte(out, 0xCF);
    put_big_endian(out, v);
  }
}

void put_signed(std::string& out, std::int64_t v) {
  if (v >= 0) return put_unsigned(out, static_cast<std::uint64_t>(v));
  if (v >= -32) {
    put_byte(out, static_cast<unsigned>(v) & 0xFF);
  } else if (v >= INT8_MIN) {
    put_byte(out, 0xD0);
    put_big_endian(out, static_cast<std::int8_t>(v));
  } else if (v >= INT16_MIN) {
    put_byte(out, 0xD1);
    put_big_endian(out, static_cast<std::int16_t>(v));
  } else if (v >= INT32_MIN) {
    put_byte(out, 0xD2);
    put_big_endian(out, static_cast<std::int32_t>(v));
  } else {
    put_byte(out, 0xD3);
    put_big_endian(out, v);
  }
}

// A length with the fix form (when fix_limit > 0) and the 8-, 16- and 32-bit forms.
void put_length(std::string& out, std::size_t n, unsigned fix_base, std::size_t fix_limit,
                int op8, unsigned op16, unsigned op32) {
  if (n < fix_limit) {
    put_byte(out, fix_base | static_cast<unsigned>(n));
  } else if (op8 >= 0 && n <= 0xFF) {
    put_byte(out, static_cast<unsigned>(op8));
    put_byte(out, static_cast<unsigned>(n));
  } else if (n <= 0xFFFF) {
    put_byte(out, op16);
    put_big_endian(out, static_cast<std::uint16_t>(n));
  } else if (n <= 0xFFFFFFFF) {
    put_byte(out, op32);
    put_big_endian(out, static_cast<std::uint32_t>(n));
  } else {
    throw error(errc::unencodable_message, "cannot encode the message: a value of " +
                                               std::to_string(n) +
                                               " elements or bytes is beyond MessagePack's 4 GiB");
  }
}

void put_string(std::string& out, std::string_view s) {
  if (const std::size_t bad = first_invalid_utf8(s); bad != std::string_view::npos) {
    throw error(errc::unencodable_message,
                "cannot encode the message (a string holds invalid UTF-8 at byte " +
                    std::to_string(bad) + ")");
  }
  put_length(out, s.size(), 0xA0, 32, 0xD9, 0xDA, 0xDB);
  out.append(s);
}

// An ext header: the fixext forms for 1, 2, 4, 8 and 16 bytes, else ext 8/16/32.
void put_ext_header(std::string& out, std::size_t n, std::uint8_t type) {
  const unsigned fixext = n == 1 ? 0xD4 : n == 2 ? 0xD5 : n == 4 ? 0xD6 : n == 8 ? 0xD7 : n == 16 ? 0xD8 : 0;
  if (fixext != 0) {
    put_byte(out, fixext);
  } else {
    put_length(out, n, 0, 0, 0xC7, 0xC8, 0xC9);
  }
  put_byte(out, type);
}

void put_binary(std::string& out, const json::binary_t& bytes, binary_spill* spill) {
  if (bytes.has_subtype() && bytes.subtype() == out_of_band_ext) {
    throw error(errc::unencodable_message,
                "cannot encode the message: binary subtype " + std::to_string(out_of_band_ext) +
                    " is reserved by forkipc");
  }
  if (spill != nullptr && bytes.size() >= spill->threshold()) {
    std::string reference;
    if (spill->spill(bytes, reference)) {
      put_ext_header(out, reference.size(), out_of_band_ext);
      out.append(reference);
      return;
    }
  }
  if (bytes.has_subtype()) {
    put_ext_header(out, bytes.size(), static_cast<std::uint8_t>(bytes.subtype()));
  } else {
    put_length(out, bytes.size(), 0, 0, 0xC4, 0xC5, 0xC6);
  }
  out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void put_value(std::string& out, const json& value, binary_spill* spill) {
  switch (value.type()) {
    case json::value_t::null: return put_byte(out, 0xC0);
    case json::value_t::boolean: return put_byte(out, value.get<bool>() ? 0xC3 : 0xC2);
    case json::value_t::number_unsigned: return put_unsigned(out, value.get<std::uint64_t>());
    case json::value_t::number_integer: return put_signed(out, value.get<std::int64_t>());
    case json::value_t::number_float:
      put_byte(out, 0xCB);
      return put_big_endian(out, std::bit_cast<std::uint64_t>(value.get<double>()));
    case json::value_t::string: return put_string(out, value.get_ref<const std::string&>());
    case json::value_t::binary: return put_binary(out, value.get_binary(), spill);
    case json::value_t::array: {
      const auto& elements = value.get_ref<const json::array_t&>();
      put_length(out, elements.size(), 0x90, 16, -1, 0xDC, 0xDD);
      for (const json& element : elements) put_value(out, element, spill);
      return;
    }
    case json::value_t::object: {
      const auto& members = value.get_ref<const json::object_t&>();
      put_length(out, members.size(), 0x80, 16, -1, 0xDE, 0xDF);
      for (const auto& [key, member] : members) {
        put_string(out, key);
        put_value(out, member, spill);
      }
      return;
    }
    case json::value_t::discarded:
      break;
  }
  throw error(errc::unencodable_message, "cannot encode a discarded json value");
}

// ---- reading ----

constexpr int max_depth = 256;

class reader {
 public:
  reader(std::string_view bytes, binary_fetch* fetch) : p_(bytes.data()), end_(p_ + bytes.size()), fetch_(fetch) {}

  std::optional<std::string> document(json& out) {
    if (!value(out, 0)) return std::move(why_);
    if (p_ != end_) return std::to_string(end_ - p_) + " bytes after the value";
    return std::nullopt;
  }

 private:
  bool fail(std::string why) {
    why_ = std::move(why);
    return false;
  }

  std::size_t left() const noexcept { return static_cast<std::size_t>(end_ - p_); }

  template <class T>
  bool take(T& out) {
    if (left() < sizeof(T)) return fail("truncated");
    std::make_unsigned_t<T> bits = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      bits = static_cast<std::make_unsigned_t<T>>((bits << 8) | static_cast<unsigned char>(p_[i]));
    p_ += sizeof(T);
    out = static_cast<T>(bits);
    return true;
  }

  template <class T>
  bool length(std::size_t& n) {
    T v;
    if (!take(v)) return false;
    n = v;
    return true;
  }

  bool bytes(std::size_t n, std::string_view& out) {
    if (left() < n) return fail("truncated: " + std::to_string(n) + " bytes announced, " + std::to_string(left()) + " left");
    out = {p_, n};
    p_ += n;
    return true;
  }

  bool string(std::size_t n, json& out) {
    std::string_view s;
    if (!bytes(n, s)) return false;
    if (first_invalid_utf8(s) != std::string_view::npos) return fail("a string holds invalid UTF-8");
    out = std::string(s);
    return true;
  }

  // Bytes as unsigned chars: a copy between different element types would go byte by byte.
  static json::binary_t::container_type byte_vector(std::string_view s) {
    const auto* first = reinterpret_cast<const std::uint8_t*>(s.data());
    return json::binary_t::container_type(first, first + s.size());
  }

  bool binary(std::size_t n, json& out) {
    std::string_view s;
    if (!bytes(n, s)) return false;
    out = json::binary(byte_vector(s));
    return true;
  }

  bool ext(std::size_t n, json& out) {
    std::uint8_t type;
    std::string_view payload;
    if (!take(type) || !bytes(n, payload)) return false;
    if (type == out_of_band_ext) {
      if (fetch_ == nullptr) return fail("an out-of-band reference where none can be");
      json::binary_t fetched;
      if (auto why = fetch_->fetch(payload, fetched)) return fail(std::move(*why));
      out = json::binary(std::move(fetched));
      return true;
    }
    out = json::binary(byte_vector(payload), type);
    return true;
  }

  bool array(std::size_t n, json& out, int depth) {
    if (n > left()) return fail("truncated: an array of " + std::to_string(n) + " elements in " + std::to_string(left()) + " bytes");
    out = json::array();
    auto& elements = out.get_ref<json::array_t&>();
    elements.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      if (!value(elements.emplace_back(), depth + 1)) return false;
    return true;
  }

  bool map(std::size_t n, json& out, int depth) {
    if (n > left() / 2) return fail("truncated: a map of " + std::to_string(n) + " entries in " + std::to_string(left()) + " bytes");
    out = json::object();
    auto& members = out.get_ref<json::object_t&>();
    for (std::size_t i = 0; i < n; ++i) {
      json key;
      if (!value(key, depth + 1)) return false;
      if (!key.is_string()) return fail("a map key that is not a string");
      json member;
      if (!value(member, depth + 1)) return false;
      members.insert_or_assign(std::move(key.get_ref<std::string&>()), std::move(member));
    }
    return true;
  }

  bool value(json& out, int depth) {
    if (depth > max_depth) return fail("nesting deeper than " + std::to_string(max_depth));
    std::uint8_t type;
    if (!take(type)) return false;
    std::size_t n = 0;
    if (type < 0x80) return (out = type, true);
    if (type >= 0xE0) return (out = static_cast<std::int8_t>(type), true);
    if ((type & 0xF0) == 0x80) return map(type & 0x0F, out, depth);
    if ((type & 0xF0) == 0x90) return array(type & 0x0F, out, depth);
    if ((type & 0xE0) == 0xA0) return string(type & 0x1F, out);
    switch (type) {
      case 0xC0: out = nullptr; return true;
      case 0xC2: out = false; return true;
      case 0xC3: out = true; return true;
      case 0xC4: return length<std::uint8_t>(n) && binary(n, out);
      case 0xC5: return length<std::uint16_t>(n) && binary(n, out);
      case 0xC6: return length<std::uint32_t>(n) && binary(n, out);
      case 0xC7: return length<std::uint8_t>(n) && ext(n, out);
      case 0xC8: return length<std::uint16_t>(n) && ext(n, out);
      case 0xC9: return length<std::uint32_t>(n) && ext(n, out);
      case 0xCA: return number<std::uint32_t, float>(out);
      case 0xCB: return number<std::uint64_t, double>(out);
      case 0xCC: return number<std::uint8_t>(out);
      case 0xCD: return number<std::uint16_t>(out);
      case 0xCE: return number<std::uint32_t>(out);
      case 0xCF: return number<std::uint64_t>(out);
      case 0xD0: return number<std::int8_t>(out);
      case 0xD1: return number<std::int16_t>(out);
      case 0xD2: return number<std::int32_t>(out);
      case 0xD3: return number<std::int64_t>(out);
      case 0xD4: return ext(1, out);
      case 0xD5: return ext(2, out);
      case 0xD6: return ext(4, out);
      case 0xD7: return ext(8, out);
      case 0xD8: return ext(16, out);
      case 0xD9: return length<std::uint8_t>(n) && string(n, out);
      case 0xDA: return length<std::uint16_t>(n) && string(n, out);
      case 0xDB: return length<std::uint32_t>(n) && string(n, out);
      case 0xDC: return length<std::uint16_t>(n) && array(n, out, depth);
      case 0xDD: return length<std::uint32_t>(n) && array(n, out, depth);
      case 0xDE: return length<std::uint16_t>(n) && map(n, out, depth);
      case 0xDF: return length<std::uint32_t>(n) && map(n, out, depth);
      default: return fail("the reserved type byte 0xC1");
    }
  }

  // Integers read as nlohmann reads them: non-negative as unsigned, negative as signed.
  template <class Bits, class Float = void>
  bool number(json& out) {
    Bits bits;
    if (!take(bits)) return false;
    if constexpr (!std::is_void_v<Float>) {
      out = static_cast<double>(std::bit_cast<Float>(bits));
    } else if constexpr (std::is_signed_v<Bits>) {
      if (bits >= 0) {
        out = static_cast<std::uint64_t>(bits);
      } else {
        out = static_cast<std::int64_t>(bits);
      }
    } else {
      out = static_cast<std::uint64_t>(bits);
    }
    return true;
  }

  const char* p_;
  const char* end_;
  binary_fetch* fetch_;
  std::string why_;
};

}  // namespace

void write_msgpack(const json& value, std::string& out, binary_spill* spill) {
  put_value(out, value, spill);
}

std::optional<std::string> read_msgpack(std::string_view bytes, json& out, binary_fetch* fetch) {
  return reader(bytes, fetch).document(out);
}

}  // namespace forkipc::detail
