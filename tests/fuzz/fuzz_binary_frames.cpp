// libFuzzer target: the binary frame decoder and its MessagePack reader, on any byte stream,
// split in any way, with out-of-band references resolved by a stand-in for shared memory.
//
// Input: byte 0 picks max_message_size, byte 1 the size of the pieces the stream arrives in;
// the rest is the stream. Checks, besides what ASan, UBSan and LeakSanitizer catch:
// - the decoder never allocates more than one frame under the limit plus one read, and once
//   broken (a length over the limit) holds nothing;
// - the split of the stream changes nothing;
// - every decoded message encodes again and decodes back to itself.
// Values are compared by their encoding: a NaN, which binary frames carry, is not equal to
// itself as a json value.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "codec/binary_frames.hpp"
#include "frame_fuzzing.hpp"

using forkipc::json;
using forkipc::detail::binary_frame_decoder;
using forkipc::detail::decoded;
using fuzzing::outcome;
using fuzzing::require;

namespace {

constexpr std::size_t limits[] = {1, 8, 64, 4096};

// References name a length in their first byte, bounded as a real region's would be.
class fake_region final : public forkipc::detail::binary_fetch {
 public:
  explicit fake_region(std::size_t max) : max_(max) {}
  void begin_message(forkipc::detail::stream_span) noexcept override { fetched_ = 0; }
  std::optional<std::string> fetch(std::string_view reference, json::binary_t& out) override {
    if (reference.empty()) return std::string("an empty reference");
    const std::size_t n = static_cast<unsigned char>(reference[0]);
    if (n > max_ - fetched_) return std::string("over the limit");
    fetched_ += n;
    out = json::binary_t(std::vector<std::uint8_t>(n, 0xAB));
    return std::nullopt;
  }

 private:
  std::size_t max_, fetched_ = 0;
};

// The message's frame, as forkipc encodes it; throws (and fails the run) on bad UTF-8.
std::string encoded(const json& value) {
  std::string frame;
  forkipc::detail::encode_binary_frame(value, frame);
  return frame;
}

void drain(binary_frame_decoder& decoder, std::vector<outcome>& out) {
  while (auto d = decoder.next()) {
    switch (d->index()) {
      case 0: out.push_back({0, encoded(std::get<0>(*d))}); break;
      case 1: out.push_back({1, encoded(std::get<1>(*d).value)}); break;
      case 2: out.push_back({2, std::string(std::get<2>(*d).bytes.begin(), std::get<2>(*d).bytes.end())}); break;
      default: out.push_back({3, {}, std::get<3>(*d).code().value()});
    }
  }
}

std::vector<outcome> decode(std::string_view stream, std::size_t max, std::size_t piece) {
  fake_region region(max);
  binary_frame_decoder decoder(max, &region);
  std::vector<outcome> out;  // kinds: the decoded variant's index: message, internal, bytes, error
  fuzzing::feed_in_pieces(decoder, stream, max, piece, [&] { drain(decoder, out); });
  if (auto truncated = decoder.finish()) out.push_back({2, {}, truncated->code().value()});
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t max = limits[data[0] % std::size(limits)];
  const std::size_t piece = 1 + data[1] % 32;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  const std::vector<outcome> whole = decode(stream, max, stream.size() + 1);
  require(whole == decode(stream, max, piece));

  for (const outcome& o : whole) {
    if (o.kind >= 2) continue;  // bytes and errors: nothing to encode again
    binary_frame_decoder again(o.frame.size());
    again.feed(o.frame);
    auto d = again.next();
    require(d && d->index() == o.kind);
    require(encoded(o.kind == 0 ? std::get<0>(*d) : std::get<1>(*d).value) == o.frame);
  }
  return 0;
}
