#include <forkipc/detail/events.hpp>

#include <stdexcept>
#include <string>

namespace forkipc::detail {

void throw_unknown_event(std::string_view name,
                         std::initializer_list<std::string_view> valid_names) {
  std::string text = "forkipc: unknown event \"" + std::string(name) + "\"; the valid events are";
  const char* separator = " ";
  for (std::string_view valid : valid_names) {
    text.append(separator).append("\"").append(valid).append("\"");
    separator = ", ";
  }
  throw std::invalid_argument(text);
}

void throw_listener_mismatch(std::string_view name, std::string_view signature) {
  throw std::invalid_argument("forkipc: a listener for \"" + std::string(name) +
                              "\" must be callable as " + std::string(signature) +
                              ", or with no arguments");
}

}  // namespace forkipc::detail
