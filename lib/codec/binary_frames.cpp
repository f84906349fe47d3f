#include "codec/binary_frames.hpp"

#include <cstdint>

#include "size_text.hpp"

namespace forkipc::detail {

void encode_binary_frame(const json& message, std::string& out, binary_spill* spill,
                         std::size_t max_depth) {
  append_length_prefixed(out, UINT32_MAX, "binary",
                         [&](std::string& body) { write_msgpack(message, body, spill, max_depth); });
}

void encode_bytes_frame(std::span<const std::byte> bytes, std::string& out) {
  append_length_prefixed(out, UINT32_MAX, "binary", [&](std::string& body) {
    write_msgpack_ext_header(bytes.size(), raw_bytes_ext, body);
    body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  });
}

std::optional<decoded> binary_frame_decoder::next() {
  auto frame = next_body();
  if (!frame) return std::nullopt;
  if (auto* problem = std::get_if<error>(&*frame)) return std::move(*problem);
  const std::string_view body = std::get<std::string_view>(*frame);
  if (auto bytes = msgpack_ext_payload(body, raw_bytes_ext)) return raw_bytes{*bytes};
  json value;
  if (fetch_ != nullptr) fetch_->begin_message(last_span());
  const auto problem = read_msgpack(body, value, fetch_, max_nesting_depth_);
  const auto refused = fetch_ != nullptr ? fetch_->end_message() : std::nullopt;
  if (problem) {
    const char* what = problem->code == errc::malformed_message ? "a malformed" : "a discarded";
    return error(problem->code, std::string(what) + " binary message of " + size_text(body.size()) + " (" +
                                    problem->why + "): " + hex_excerpt(body));
  }
  if (refused) return error(errc::message_too_large, "dropped a binary message: " + *refused);
  return classify(std::move(value));
}

}  // namespace forkipc::detail
