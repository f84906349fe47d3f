// forkipc::transport: what a channel's bytes travel through.
#pragma once

namespace forkipc {

/// What a channel's bytes travel through, between a parent and its child.
enum class transport {
  /// The channel's Unix socket, as in Node: every message is written and read by the kernel. A
  /// Node.js script is a valid peer.
  socket,

  /// A pair of rings in memory both processes map (an anonymous memfd, sealed), one per
  /// direction: a message is copied into the ring and out of it, with no system call while
  /// messages keep coming. A receiver with nothing to read spins for a moment, then sleeps on
  /// the socket, which stays beside the rings for passed descriptors, wake-ups and the end of
  /// the peer. Both ends must be forkipc: the child's environment says so
  /// (NODE_CHANNEL_SERIALIZATION_MODE=forkipc-json-shm or forkipc-binary-shm), which a Node
  /// child or an older forkipc refuses at start-up instead of misreading bytes.
  shared_memory,
};

}  // namespace forkipc
