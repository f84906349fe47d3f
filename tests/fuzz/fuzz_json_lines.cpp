// libFuzzer target: the json-lines decoder, on any byte stream, split in any way.
//
// Input: byte 0 picks max_message_size, byte 1 the size of the pieces the stream arrives in;
// the rest is the stream. Checks, besides what ASan, UBSan and LeakSanitizer catch:
// - the decoder never holds more than max_message_size bytes of an unfinished line, nor
//   allocates more than that plus one read (a peer cannot make it);
// - the split of the stream changes nothing: fed whole or piece by piece, the same messages
//   and the same kinds of errors come out, in the same order;
// - every decoded message encodes again (it is valid UTF-8) and decodes back to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "codec/json_lines.hpp"

using forkipc::json;
using forkipc::detail::decoded;
using forkipc::detail::json_line_decoder;

namespace {

constexpr std::size_t limits[] = {1, 2, 7, 64, 4096};

void require(bool condition) {
  if (!condition) std::abort();
}

// Kind (0 message, 1 internal, 2 error), and the value or the error code.
struct outcome {
  std::size_t kind;  // the decoded variant's index
  json value;
  int code = 0;
  bool operator==(const outcome&) const = default;
};

outcome summarize(decoded&& d) {
  switch (d.index()) {
    case 0: return {0, std::move(std::get<0>(d))};
    case 1: return {1, std::move(std::get<1>(d).value)};
    case 2: std::abort();  // json lines never decode to bytes
    default: return {3, nullptr, std::get<3>(d).code().value()};
  }
}

void drain(json_line_decoder& decoder, std::vector<outcome>& out) {
  while (auto d = decoder.next()) out.push_back(summarize(std::move(*d)));
}

void finish(json_line_decoder& decoder, std::vector<outcome>& out) {
  if (auto truncated = decoder.finish()) out.push_back({3, nullptr, truncated->code().value()});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t max = limits[data[0] % std::size(limits)];
  const std::size_t piece = 1 + data[1] % 32;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  std::vector<outcome> whole;
  {
    json_line_decoder decoder(max);
    decoder.feed(stream);
    drain(decoder, whole);
    require(decoder.buffered() <= max);
    finish(decoder, whole);
  }

  std::vector<outcome> split;
  {
    json_line_decoder decoder(max);
    for (std::size_t at = 0; at < stream.size(); at += piece) {
      decoder.feed(stream.substr(at, piece));
      drain(decoder, split);
      require(decoder.buffered() <= max);
      require(decoder.capacity() <= max + piece);
    }
    finish(decoder, split);
  }
  require(whole == split);

  for (const outcome& o : whole) {
    if (o.kind == 3) continue;
    std::string line;
    forkipc::detail::encode_json_line(o.value, line);  // throws (and fails the run) on bad UTF-8
    json_line_decoder again(line.size());
    again.feed(line);
    auto d = again.next();
    require(d && d->index() == o.kind);
    require((o.kind == 0 ? std::get<0>(*d) : std::get<1>(*d).value) == o.value);
  }
  return 0;
}
