#include <cstdio>
#include <exception>

#include <forkipc/error.hpp>
#include <forkipc/pool.hpp>
#include <forkipc/sync/parent.hpp>

namespace forkipc {
namespace {

bool is_request(const json& message) {
  if (!message.is_object()) return false;
  const auto kind = message.find("forkipc");
  return kind != message.end() && *kind == "request" && message.contains("id");
}

// The handler's answer to one message, or what it threw.
struct outcome {
  json value;
  std::optional<std::string> failure;
};

outcome run(const std::function<json(const json&)>& handler, const json& message) {
  try {
    return {handler(message), std::nullopt};
  } catch (const std::exception& e) {
    return {nullptr, e.what()};
  } catch (...) {
    return {nullptr, "the handler threw something that is not a std::exception"};
  }
}

}  // namespace

void serve(std::function<json(const json&)> handler) {
  sync::parent parent;
  for (;;) {
    std::optional<json> message;
    try {
      message = parent.receive();
    } catch (const error& e) {  // bad input from the parent: say so, and go on with the next
      std::fprintf(stderr, "forkipc::serve: %s\n", e.what());
      continue;
    }
    if (!message) return;  // the parent disconnected
    try {
      if (is_request(*message)) {
        const json& id = (*message)["id"];
        const auto body = message->find("body");
        outcome result = run(handler, body == message->end() ? json() : *body);
        if (result.failure) {
          parent.send({{"forkipc", "error"}, {"id", id}, {"message", *result.failure}});
        } else {
          parent.send({{"forkipc", "reply"}, {"id", id}, {"body", std::move(result.value)}});
        }
      } else {
        outcome result = run(handler, *message);
        parent.send(result.failure ? json{{"error", *result.failure}} : std::move(result.value));
      }
    } catch (const error& e) {
      if (e.code() == errc::channel_closed) return;  // the parent went away mid-answer
      std::fprintf(stderr, "forkipc::serve: cannot send the answer: %s\n", e.what());
    }
  }
}

}  // namespace forkipc
