// libFuzzer target: the advanced frame decoder and V8's value format, on any byte stream, split
// in any way.
//
// Input: byte 0 picks max_message_size, byte 1 the size of the pieces the stream arrives in,
// byte 2 max_nesting_depth; the rest is the stream. Checks, besides what ASan, UBSan and
// LeakSanitizer catch:
// - the decoder never holds more than one frame under the limit plus one read, and once broken
//   (a length over the limit) holds nothing more;
// - the split of the stream changes nothing;
// - the mapping is total: every decoded message encodes (within the same nesting limit), and
//   decodes back to what encodes the same.
// Values are compared by their encoding: a NaN is not equal to itself as a json value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "codec/advanced_frames.hpp"
#include "frame_fuzzing.hpp"

using forkipc::json;
using forkipc::detail::advanced_frame_decoder;
using fuzzing::outcome;
using fuzzing::require;

namespace {

constexpr std::size_t limits[] = {16, 64, 4096, 65536};
constexpr std::size_t depths[] = {1, 3, 64};

// The message's frame, as forkipc encodes it; an exception fails the run.
std::string encoded(const json& value, std::size_t depth) {
  std::string frame;
  forkipc::detail::encode_advanced_frame(value, frame, depth);
  return frame;
}

void drain(advanced_frame_decoder& decoder, std::size_t depth, std::vector<outcome>& out) {
  while (auto d = decoder.next()) {
    switch (d->index()) {
      case 0: out.push_back({0, encoded(std::get<0>(*d), depth)}); break;
      case 1: out.push_back({1, encoded(std::get<1>(*d).value, depth)}); break;
      case 2: std::abort();  // advanced frames never carry raw bytes
      default: out.push_back({3, {}, std::get<3>(*d).code().value()});
    }
  }
}

std::vector<outcome> decode(std::string_view stream, std::size_t max, std::size_t depth, std::size_t piece) {
  advanced_frame_decoder decoder(max, depth);
  std::vector<outcome> out;  // kinds: the decoded variant's index: message, internal, (bytes,) error
  fuzzing::feed_in_pieces(decoder, stream, max, piece, [&] { drain(decoder, depth, out); });
  if (auto truncated = decoder.finish()) out.push_back({3, {}, truncated->code().value()});
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::size_t max = limits[data[0] % std::size(limits)];
  const std::size_t piece = 1 + data[1] % 32;
  const std::size_t depth = depths[data[2] % std::size(depths)];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 3, size - 3);

  const std::vector<outcome> whole = decode(stream, max, depth, stream.size() + 1);
  require(whole == decode(stream, max, depth, piece));

  for (const outcome& o : whole) {
    if (o.kind == 3) continue;
    // What forkipc writes reads back as itself (its cost may exceed the first frame's limit:
    // the frame it came from may have been written more compactly, with references).
    advanced_frame_decoder again(o.frame.size() * 4, depth);
    again.feed(o.frame);
    auto d = again.next();
    require(d && d->index() == o.kind);
    require(encoded(o.kind == 0 ? std::get<0>(*d) : std::get<1>(*d).value, depth) == o.frame);
  }
  return 0;
}
