// forkipc::serialization: how messages are framed on the channel.
#pragma once

namespace forkipc {

/// The wire format of a channel.
enum class serialization {
  /// Node's default: each message is its JSON text followed by "\n", in UTF-8. A Node.js script
  /// is a valid peer.
  json,
};

}  // namespace forkipc
