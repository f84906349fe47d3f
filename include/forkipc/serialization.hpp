// forkipc::serialization: how messages are framed on the channel.
#pragma once

namespace forkipc {

/// The wire format of a channel.
enum class serialization {
  /// Node's default: each message is its JSON text followed by "\n", in UTF-8. A Node.js script
  /// is a valid peer.
  json,

  /// forkipc's own: each message is a 4-byte big-endian length and that many bytes of
  /// MessagePack. json::binary_t values travel raw and arrive bit-exact; those at or above
  /// fork_options::shared_memory_threshold travel through shared memory instead of the socket.
  /// Doubles travel exactly, NaN and infinities included. The child's environment says
  /// NODE_CHANNEL_SERIALIZATION_MODE=forkipc-binary, which a Node child refuses at start-up
  /// (it exits with an error), so only forkipc children can use it.
  binary,
};

}  // namespace forkipc
