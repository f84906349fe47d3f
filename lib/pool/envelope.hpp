// The pool's request/reply envelope on the wire, without I/O: what pool and serve exchange.
//   request: {"forkipc": "request", "id": <integer>, "body": <the message>}
//   reply:   {"forkipc": "reply", "id": <the same>, "body": <the answer>}
//   failure: {"forkipc": "error", "id": <the same>, "message": <a string>}
// Pure functions of a json value, so that what a peer may send is fuzzed directly
// (tests/fuzz/fuzz_envelope.cpp) and shared by both sides.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <forkipc/json.hpp>

namespace forkipc::detail {

/// The pool's request for a worker.
json request_envelope(std::uint64_t id, const json& body);

/// What a worker's message means to the pool.
struct worker_answer {
  std::uint64_t id;
  bool failed;  // false: body is the reply; true: body is the failure's message
  json body;
};

/// The answer in message, or nullopt for anything that is not a well-formed reply or failure
/// (the pool ignores those): not an object, no "forkipc" string, an "id" that is not a
/// non-negative integer. A reply without "body" answers null; a failure without "message", "".
std::optional<worker_answer> parse_worker_answer(const json& message);

/// What serve() finds in a message from the parent.
struct incoming_request {
  json id;  // echoed back as it came
  json body;
};

/// The request in message, or nullopt for a bare message (anything else, answered bare): an
/// object whose "forkipc" is "request" and that has an "id". A missing "body" is null.
std::optional<incoming_request> parse_request(const json& message);

/// The worker's answers to the request with this id.
json reply_envelope(const json& id, json body);
json failure_envelope(const json& id, std::string message);

}  // namespace forkipc::detail
