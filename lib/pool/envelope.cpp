#include "pool/envelope.hpp"

#include <utility>

namespace forkipc::detail {
namespace {

// The member named key, or null when there is none.
json member_or_null(const json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() ? json() : *it;
}

}  // namespace

json request_envelope(std::uint64_t id, const json& body) {
  return {{"forkipc", "request"}, {"id", id}, {"body", body}};
}

std::optional<worker_answer> parse_worker_answer(const json& message) {
  if (!message.is_object()) return std::nullopt;
  const auto kind = message.find("forkipc");
  const auto id = message.find("id");
  // The pool's ids are unsigned; nlohmann reads every non-negative integer as unsigned, so a
  // negative or fractional id is not one of ours.
  if (kind == message.end() || !kind->is_string() || id == message.end() || !id->is_number_unsigned())
    return std::nullopt;
  const auto& what = kind->get_ref<const std::string&>();
  if (what == "reply") return worker_answer{id->get<std::uint64_t>(), false, member_or_null(message, "body")};
  if (what == "error") {
    const auto text = message.find("message");
    return worker_answer{id->get<std::uint64_t>(), true, text == message.end() ? json("") : *text};
  }
  return std::nullopt;
}

std::optional<incoming_request> parse_request(const json& message) {
  if (!message.is_object()) return std::nullopt;
  const auto kind = message.find("forkipc");
  const auto id = message.find("id");
  if (kind == message.end() || *kind != "request" || id == message.end()) return std::nullopt;
  return incoming_request{*id, member_or_null(message, "body")};
}

json reply_envelope(const json& id, json body) {
  return {{"forkipc", "reply"}, {"id", id}, {"body", std::move(body)}};
}

json failure_envelope(const json& id, std::string message) {
  return {{"forkipc", "error"}, {"id", id}, {"message", std::move(message)}};
}

}  // namespace forkipc::detail
