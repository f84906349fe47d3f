#include "codec/msgpack.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include <forkipc/error.hpp>

#include "codec/json_walk.hpp"
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
  if (bytes.has_subtype() && (bytes.subtype() == out_of_band_ext || bytes.subtype() == raw_bytes_ext)) {
    throw error(errc::unencodable_message,
                "cannot encode the message: binary subtypes " + std::to_string(raw_bytes_ext) + " and " +
                    std::to_string(out_of_band_ext) + " are reserved by forkipc");
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

void put_scalar(std::string& out, const json& value, binary_spill* spill) {
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
    case json::value_t::array:
    case json::value_t::object:  // walk() opens these
    case json::value_t::discarded:
      break;
  }
  throw error(errc::unencodable_message, "cannot encode a discarded json value");
}

// The visitor of walk() that writes MessagePack.
struct msgpack_writer {
  std::string& out;
  binary_spill* spill;

  void scalar(const json& value) { put_scalar(out, value, spill); }
  void open_array(const json::array_t& elements) { put_length(out, elements.size(), 0x90, 16, -1, 0xDC, 0xDD); }
  void element(bool) noexcept {}
  void close_array() noexcept {}
  void open_object(const json::object_t& members) { put_length(out, members.size(), 0x80, 16, -1, 0xDE, 0xDF); }
  void member(const std::string& key, bool) { put_string(out, key); }
  void close_object() noexcept {}
};

// ---- reading ----

// Reads without recursion: the containers being filled are kept on the heap, so that a frame
// nested a million levels deep is an error (past max_depth), never a stack overflow.
class reader {
 public:
  reader(std::string_view bytes, binary_fetch* fetch, std::size_t max_depth)
      : p_(bytes.data()), end_(p_ + bytes.size()), fetch_(fetch), max_depth_(max_depth) {}

  std::optional<msgpack_error> document(json& out) {
    json* slot = &out;  // where the next value goes
    for (;;) {
      if (!value(*slot)) return failure();
      // The next slot: in the innermost container that still expects values.
      for (;;) {
        if (open_.empty()) {
          if (p_ != end_) return msgpack_error{errc::malformed_message, std::to_string(end_ - p_) + " bytes after the value"};
          return std::nullopt;
        }
        container& c = open_.back();
        if (c.left == 0) {
          open_.pop_back();
          continue;
        }
        --c.left;
        if (c.target->is_array()) {
          // Reserved for every element when opened: the slots do not move as it fills.
          slot = &c.target->get_ref<json::array_t&>().emplace_back();
        } else {
          std::string key;
          if (!map_key(key)) return failure();
          json& member = c.target->get_ref<json::object_t&>()[std::move(key)];
          member = nullptr;  // a repeated key: the last one wins
          slot = &member;
        }
        break;
      }
    }
  }

 private:
  // An array or map being filled: left more values to read into target.
  struct container {
    json* target;
    std::size_t left;
  };

  bool fail(std::string why, errc code = errc::malformed_message) {
    why_ = std::move(why);
    code_ = code;
    return false;
  }

  msgpack_error failure() { return {code_, std::move(why_)}; }

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

  bool string_bytes(std::size_t n, std::string_view& s) {
    if (!bytes(n, s)) return false;
    if (first_invalid_utf8(s) != std::string_view::npos) return fail("a string holds invalid UTF-8");
    return true;
  }

  bool string(std::size_t n, json& out) {
    std::string_view s;
    if (!string_bytes(n, s)) return false;
    out = std::string(s);
    return true;
  }

  // A map's key: a string, in any of its forms.
  bool map_key(std::string& key) {
    std::uint8_t type;
    if (!take(type)) return false;
    std::size_t n = 0;
    if ((type & 0xE0) == 0xA0) {
      n = type & 0x1F;
    } else if (type == 0xD9) {
      if (!length<std::uint8_t>(n)) return false;
    } else if (type == 0xDA) {
      if (!length<std::uint16_t>(n)) return false;
    } else if (type == 0xDB) {
      if (!length<std::uint32_t>(n)) return false;
    } else {
      return fail("a map key that is not a string");
    }
    std::string_view s;
    if (!string_bytes(n, s)) return false;
    key.assign(s);
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
    // Only a whole frame can be send_bytes' bytes; inside a message the mark is a lie, and a
    // value carrying it could not be sent on.
    if (type == raw_bytes_ext) return fail("the mark of send_bytes' frames inside a message");
    out = json::binary(byte_vector(payload), type);
    return true;
  }

  // Opens an array or map of n values: they are read into it next.
  bool open(std::size_t n, json& out, bool is_map) {
    if (open_.size() >= max_depth_)
      return fail("nested more than " + std::to_string(max_depth_) + " levels deep (max_nesting_depth)",
                  errc::nesting_too_deep);
    // Each value takes at least one byte (a key and its value two): a count in the input never
    // reserves more than the bytes left could hold.
    if (n > (is_map ? left() / 2 : left())) {
      return fail(std::string("truncated: ") + (is_map ? "a map of " : "an array of ") + std::to_string(n) +
                  (is_map ? " entries in " : " elements in ") + std::to_string(left()) + " bytes");
    }
    if (is_map) {
      out = json::object();
    } else {
      out = json::array();
      out.get_ref<json::array_t&>().reserve(n);
    }
    open_.push_back({&out, n});
    return true;
  }

  // One value into out: a scalar whole, an array or map opened.
  bool value(json& out) {
    std::uint8_t type;
    if (!take(type)) return false;
    std::size_t n = 0;
    if (type < 0x80) return (out = type, true);
    if (type >= 0xE0) return (out = static_cast<std::int8_t>(type), true);
    if ((type & 0xF0) == 0x80) return open(type & 0x0F, out, true);
    if ((type & 0xF0) == 0x90) return open(type & 0x0F, out, false);
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
      case 0xDC: return length<std::uint16_t>(n) && open(n, out, false);
      case 0xDD: return length<std::uint32_t>(n) && open(n, out, false);
      case 0xDE: return length<std::uint16_t>(n) && open(n, out, true);
      case 0xDF: return length<std::uint32_t>(n) && open(n, out, true);
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
  std::size_t max_depth_;
  std::vector<container> open_;
  std::string why_;
  errc code_ = errc::malformed_message;
};

}  // namespace

void write_msgpack_ext_header(std::size_t n, std::uint8_t type, std::string& out) { put_ext_header(out, n, type); }

std::optional<std::string_view> msgpack_ext_payload(std::string_view body, std::uint8_t type) noexcept {
  if (body.size() < 2) return std::nullopt;
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(body[i]); };
  std::size_t header = 0, n = 0;
  switch (byte(0)) {
    case 0xD4: header = 2, n = 1; break;
    case 0xD5: header = 2, n = 2; break;
    case 0xD6: header = 2, n = 4; break;
    case 0xD7: header = 2, n = 8; break;
    case 0xD8: header = 2, n = 16; break;
    case 0xC7: header = 3, n = body.size() >= 3 ? byte(1) : 0; break;
    case 0xC8: header = 4, n = body.size() >= 4 ? (std::size_t{byte(1)} << 8 | byte(2)) : 0; break;
    case 0xC9:
      header = 6;
      n = body.size() >= 6 ? (std::size_t{byte(1)} << 24 | std::size_t{byte(2)} << 16 | std::size_t{byte(3)} << 8 | byte(4)) : 0;
      break;
    default: return std::nullopt;
  }
  if (body.size() != header + n || byte(header - 1) != type) return std::nullopt;
  return body.substr(header);
}

void write_msgpack(const json& value, std::string& out, binary_spill* spill, std::size_t max_depth) {
  msgpack_writer writer{out, spill};
  if (!walk(value, max_depth, writer)) throw_too_deep_to_encode(max_depth);
}

std::optional<msgpack_error> read_msgpack(std::string_view bytes, json& out, binary_fetch* fetch,
                                          std::size_t max_depth) {
  return reader(bytes, fetch, max_depth).document(out);
}

}  // namespace forkipc::detail
