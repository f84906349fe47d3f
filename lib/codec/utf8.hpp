// UTF-8 checks shared by the JSON reader, the writer and error excerpts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace forkipc::detail {

/// Length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are not one: overlong
/// forms, UTF-16 surrogates and code points past U+10FFFF are invalid, as RFC 3629 says.
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return length;
}

/// Whether any of the 8 bytes at p needs a closer look inside a JSON string: '"', '\\', a
/// control character (< 0x20) or a non-ASCII byte. It may also flag a plain byte that follows a
/// flagged one (borrows cross bytes), never miss one; callers then look byte by byte.
inline bool word_needs_attention(const char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  const auto has_zero_byte = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
  const std::uint64_t non_ascii = w & highs;
  const std::uint64_t control = (w - 0x20 * ones) & ~w & highs;
  const std::uint64_t quote = has_zero_byte(w ^ (0x22 * ones));
  const std::uint64_t backslash = has_zero_byte(w ^ (0x5C * ones));
  return (non_ascii | control | quote | backslash) != 0;
}

/// Where s stops being valid UTF-8, or std::string_view::npos when all of it is.
inline std::size_t first_invalid_utf8(std::string_view s) noexcept {
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  std::size_t i = 0;
  while (i < s.size()) {
    if (i + 8 <= s.size()) {  // ASCII runs a word at a time
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, sizeof w);
      if ((w & highs) == 0) {
        i += 8;
        continue;
      }
    }
    const std::size_t length = utf8_sequence_length(s, i);
    if (length == 0) return i;
    i += length;
  }
  return std::string_view::npos;
}

}  // namespace forkipc::detail
