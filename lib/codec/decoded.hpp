// What every codec decodes a message to, and Node's test for its internal messages.
#pragma once

#include <string_view>
#include <utility>
#include <variant>

#include <forkipc/error.hpp>
#include <forkipc/json.hpp>

namespace forkipc::detail {

/// Node's test for its internal messages: an object whose "cmd" is a string that starts with
/// "NODE_" and is longer than that. They never reach "message" listeners.
inline bool is_internal_message(const json& message) noexcept {
  if (!message.is_object()) return false;
  const auto cmd = message.find("cmd");
  if (cmd == message.end() || !cmd->is_string()) return false;
  const auto& text = cmd->get_ref<const std::string&>();
  return text.size() > 5 && text.starts_with("NODE_");
}

/// A decoded internal message (see is_internal_message).
struct internal_message {
  json value;
};

/// Bytes a peer sent with send_bytes (binary serialization only): a view of the decoder's
/// buffer, valid until the decoder is fed or asked for the next message.
struct raw_bytes {
  std::string_view bytes;
};

/// What one message decodes to: a message, an internal message, bytes, or what was wrong.
using decoded = std::variant<json, internal_message, raw_bytes, error>;

/// value as a message or, when is_internal_message(value), as an internal one.
inline decoded classify(json&& value) {
  if (is_internal_message(value)) return internal_message{std::move(value)};
  return std::move(value);
}

}  // namespace forkipc::detail
