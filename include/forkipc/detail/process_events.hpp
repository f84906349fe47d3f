// The events child_process and parent_process emit, with their names and listener signatures.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include <forkipc/detail/events.hpp>
#include <forkipc/error.hpp>
#include <forkipc/handle.hpp>
#include <forkipc/json.hpp>

namespace forkipc::detail::events {

struct spawn {
  static constexpr std::string_view name = "spawn";
  static constexpr std::string_view signature = "void()";
  using list = listener_list<>;
};

struct message {
  static constexpr std::string_view name = "message";
  static constexpr std::string_view signature =
      "void(const forkipc::json& message[, forkipc::handle passed])";
  // The first listener taking the handle owns it; the rest see an empty one.
  using list = listener_list<const json&, forkipc::handle&&>;
  using refused = std::span<const std::byte>;  // a "bytes" listener
};

struct bytes {
  static constexpr std::string_view name = "bytes";
  static constexpr std::string_view signature = "void(std::span<const std::byte> bytes)";
  using list = listener_list<std::span<const std::byte>>;
  using refused = json;  // a "message" listener
};

struct disconnect {
  static constexpr std::string_view name = "disconnect";
  static constexpr std::string_view signature = "void()";
  using list = listener_list<>;
};

struct exit {
  static constexpr std::string_view name = "exit";
  static constexpr std::string_view signature =
      "void(std::optional<int> code, std::optional<int> signal)";
  using list = listener_list<std::optional<int>, std::optional<int>>;
};

struct close {
  static constexpr std::string_view name = "close";
  static constexpr std::string_view signature = exit::signature;
  using list = listener_list<std::optional<int>, std::optional<int>>;
};

struct error {
  static constexpr std::string_view name = "error";
  static constexpr std::string_view signature = "void(const forkipc::error& error)";
  using list = listener_list<const forkipc::error&>;
};

struct stdout_data {
  static constexpr std::string_view name = "stdout";
  static constexpr std::string_view signature = "void(std::string_view data)";
  using list = listener_list<std::string_view>;
};

struct stderr_data {
  static constexpr std::string_view name = "stderr";
  static constexpr std::string_view signature = "void(std::string_view data)";
  using list = listener_list<std::string_view>;
};

}  // namespace forkipc::detail::events
