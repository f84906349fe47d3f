#include "codec/advanced_frames.hpp"

#include <algorithm>

namespace forkipc::detail {

void encode_advanced_frame(const json& message, std::string& out, std::size_t max_depth) {
  append_length_prefixed(out, longest_advanced_frame, "advanced", [&](std::string& body) {
    // V8's buffer starts at the frame's length, as in Node's ChildProcessSerializer: that is
    // where two-byte strings count their alignment from.
    write_v8_message(message, body, body.size() - length_prefix_size, max_depth);
  });
}

std::optional<decoded> advanced_frame_decoder::next() {
  auto frame = next_body();
  if (!frame) return std::nullopt;
  if (auto* problem = std::get_if<error>(&*frame)) return std::move(*problem);
  const std::string_view body = std::get<std::string_view>(*frame);
  json value;
  if (auto problem = read_v8_message(body, value, limits_, &spares_)) {
    // The bytes around the spot, from a little before it.
    const std::size_t from = problem->at < 8 ? 0 : problem->at - 8;
    const char* what = problem->code == errc::malformed_message ? "a malformed" : "a discarded";
    return error(problem->code, std::string(what) + " advanced message of " + size_text(body.size()) + " (" +
                                    problem->why + ", at byte " + std::to_string(problem->at) + "): " +
                                    (from > 0 ? "... " : "") + hex_excerpt(body.substr(from), 24));
  }
  return classify(std::move(value));
}

}  // namespace forkipc::detail
