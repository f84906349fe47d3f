// libFuzzer target: the pool's envelope, as a peer's bytes reach it. The input is a json-lines
// stream; each message decoded from it goes through both sides' parsing (the pool reading a
// worker's answer, serve() reading a request). Checks, besides what the sanitizers catch, that
// what the parsers accept is what they were given, and that each side's own envelopes parse
// back to what was put in, whatever the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "codec/json_lines.hpp"
#include "pool/envelope.hpp"

using forkipc::json;
namespace detail = forkipc::detail;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

void check(const json& message) {
  if (auto answer = detail::parse_worker_answer(message)) {
    require(message.at("id") == answer->id);
    require(message.at("forkipc") == (answer->failed ? "error" : "reply"));
  }
  if (auto request = detail::parse_request(message)) {
    require(message.at("id") == request->id);
    require(message.value("body", json()) == request->body);
  }

  // Round trips, with the message as the body and, when it is a number, as the id.
  const std::uint64_t id = message.is_number_unsigned() ? message.get<std::uint64_t>() : 7;
  const auto request = detail::parse_request(detail::request_envelope(id, message));
  require(request && request->id == id && request->body == message);
  const auto reply = detail::parse_worker_answer(detail::reply_envelope(id, message));
  require(reply && reply->id == id && !reply->failed && reply->body == message);
  if (message.is_string()) {
    const auto failure = detail::parse_worker_answer(detail::failure_envelope(id, message.get<std::string>()));
    require(failure && failure->id == id && failure->failed && failure->body == message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  detail::json_line_decoder decoder(1 << 16);
  decoder.feed(std::string_view(reinterpret_cast<const char*>(data), size));
  decoder.feed("\n");  // the last line too
  while (auto decoded = decoder.next()) {
    if (const json* message = std::get_if<json>(&*decoded)) check(*message);
    if (const auto* internal = std::get_if<detail::internal_message>(&*decoded)) check(internal->value);
  }
  return 0;
}
