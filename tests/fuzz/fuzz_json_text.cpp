// libFuzzer target: the fast JSON reader and writer (lib/codec/json_text.*) against nlohmann.
//
// Checks, besides what ASan, UBSan and LeakSanitizer catch:
// - whatever read_json takes, nlohmann's parser takes too, and reads to the same value of the
//   same kinds (compared through nlohmann's own dump, which tells 1 from 1.0);
// - what write_json writes reads back (through read_json, or nlohmann for what it declines) to a
//   value equal to the original.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "codec/json_text.hpp"

using forkipc::json;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

bool nlohmann_reads(std::string_view text, json& out) {
  out = json::parse(text.begin(), text.end(), nullptr, false);
  return !out.is_discarded();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  json fast;
  if (!forkipc::detail::read_json(text, fast)) return 0;
  json reference;
  require(nlohmann_reads(text, reference));
  require(fast.dump() == reference.dump());

  std::string written;
  forkipc::detail::write_json(fast, written);
  json back;
  if (!forkipc::detail::read_json(written, back)) require(nlohmann_reads(written, back));
  require(back == fast);
  return 0;
}
