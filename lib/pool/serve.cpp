#include <cstdio>
#include <exception>

#include <forkipc/error.hpp>
#include <forkipc/pool.hpp>
#include <forkipc/sync/parent.hpp>

#include "pool/envelope.hpp"

namespace forkipc {
namespace {

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
      if (auto request = detail::parse_request(*message)) {
        outcome result = run(handler, request->body);
        parent.send(result.failure ? detail::failure_envelope(request->id, std::move(*result.failure))
                                   : detail::reply_envelope(request->id, std::move(result.value)));
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
