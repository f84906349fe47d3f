// libFuzzer target, structure-aware: values nested far deeper than a fuzzer's input could spell
// out, through both decoders and both writers.
//
// Input: byte 0 picks max_nesting_depth; the rest is a program whose every byte is an
// instruction (the low three bits) that appends to a JSON text and to a MessagePack body at once:
// open an array, open an object, close, a scalar, a string full of brackets, or "repeat": the
// next instruction is done as many times as the following two bytes say, times 16 (so a
// few bytes make a value a million levels deep). The text need not be valid JSON: the decoder
// must take anything. Checks, besides what ASan, UBSan and LeakSanitizer catch:
// - nothing deeper than max_nesting_depth ever comes out of either decoder, whatever the text;
// - a value that comes out is within the limit, so both writers take it, and what they write
//   decodes back to the same value (the writers and readers never recurse: a stack overflow
//   would crash the run);
// - deeper than the limit, the writers refuse the value rather than write it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "codec/binary_frames.hpp"
#include "codec/json_lines.hpp"
#include "codec/json_walk.hpp"

using forkipc::json;
using forkipc::detail::decoded;

namespace {

constexpr std::size_t limits[] = {1, 4, 256, 257, 5000};
constexpr std::size_t max_message_size = std::size_t{64} << 20;
// Enough for a million levels; more would only make each run slower.
constexpr std::size_t max_program_output = std::size_t{1} << 20;

void require(bool condition) {
  if (!condition) std::abort();
}

struct program_output {
  std::string text;
  std::string msgpack;  // arrays of one, maps of one ("k"): closes are implied
};

void step(std::uint8_t op, program_output& out) {
  switch (op & 7) {
    case 0: out.text += '['; out.msgpack += '\x91'; break;
    case 1: out.text += "{\"k\":"; out.msgpack += "\x81\xA1k"; break;
    case 2: out.text += ']'; break;
    case 3: out.text += '}'; break;
    case 4: out.text += '1'; out.msgpack += '\x01'; break;
    case 5: out.text += ','; break;
    case 6: out.text += "\"[{\\\"\""; out.msgpack += "\xA2[{"; break;
    default: break;  // 7: repeat, handled by the caller
  }
}

program_output run(const std::uint8_t* data, std::size_t size) {
  program_output out;
  for (std::size_t i = 0; i < size; ++i) {
    if ((data[i] & 7) != 7) {
      step(data[i], out);
      continue;
    }
    if (i + 3 >= size) break;
    const std::size_t times = ((std::size_t{data[i + 1]} << 8) | data[i + 2]) * 16;
    for (std::size_t k = 0; k < times && out.text.size() < max_program_output; ++k) step(data[i + 3], out);
    i += 3;
  }
  return out;
}

std::string framed(const std::string& body) {
  std::string frame(4, '\0');
  for (int i = 0; i < 4; ++i) frame[static_cast<std::size_t>(i)] = static_cast<char>(body.size() >> (8 * (3 - i)));
  return frame + body;
}

// A value that came out of a decoder: within the limit, written by both writers, read back.
void check_decoded(const json& value, std::size_t limit) {
  require(forkipc::detail::nested_within(value, limit));
  std::string line;
  forkipc::detail::encode_json_line(value, line, limit);
  forkipc::detail::json_line_decoder text_decoder(max_message_size, limit);
  text_decoder.feed(line);
  auto again = text_decoder.next();
  require(again && std::holds_alternative<json>(*again) && std::get<json>(*again) == value);
  std::string frame;
  forkipc::detail::encode_binary_frame(value, frame, nullptr, limit);
  forkipc::detail::binary_frame_decoder frame_decoder(max_message_size, nullptr, limit);
  frame_decoder.feed(frame);
  again = frame_decoder.next();
  require(again && std::holds_alternative<json>(*again) && std::get<json>(*again) == value);
  // One level less, and the writers refuse what is deeper.
  if (limit > 1 && !forkipc::detail::nested_within(value, limit - 1)) {
    line.clear();
    try {
      forkipc::detail::encode_json_line(value, line, limit - 1);
      require(false);
    } catch (const forkipc::error& e) {
      require(e.code() == forkipc::errc::unencodable_message && line.empty());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t limit = limits[data[0] % std::size(limits)];
  const program_output out = run(data + 1, size - 1);

  forkipc::detail::json_line_decoder lines(max_message_size, limit);
  lines.feed(out.text + "\n");
  while (auto d = lines.next()) {
    if (const auto* value = std::get_if<json>(&*d)) check_decoded(*value, limit);
  }

  forkipc::detail::binary_frame_decoder frames(max_message_size, nullptr, limit);
  frames.feed(framed(out.msgpack));
  while (auto d = frames.next()) {
    if (const auto* value = std::get_if<json>(&*d)) check_decoded(*value, limit);
    if (const auto* problem = std::get_if<forkipc::error>(&*d)) {
      // Too deep is always reported as such, never as something else.
      std::size_t opened = 0;
      for (char c : out.msgpack) opened += (c == '\x91' || c == '\x81') ? 1 : 0;
      if (problem->code() == forkipc::errc::nesting_too_deep) require(opened > limit);
    }
  }
  return 0;
}
