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

  /// Node's serialization "advanced": each message is a 4-byte big-endian length and that many
  /// bytes of V8's value serialization (what v8.serialize writes), as Node's child_process
  /// writes it. A Node.js script is a valid peer, either way: the child's environment says
  /// NODE_CHANNEL_SERIALIZATION_MODE=advanced, and parent() and sync::parent accept it.
  ///
  /// What JSON cannot carry arrives as a value of its own (forkipc/advanced.hpp names them):
  /// a Buffer as a json binary value without subtype, another typed array, a DataView or an
  /// ArrayBuffer as one whose subtype says which (advanced::binary_kind); undefined, holes,
  /// BigInts, Dates, RegExps, Maps, Sets, Errors and boxed primitives as single-key objects
  /// such as {"$date": 0} and {"$map": [[key, value]]}. Each goes back to Node as the value it
  /// was, so a value a Node peer sends comes back to it, echoed by a forkipc peer, deep-equal
  /// (util.isDeepStrictEqual). Integers outside the int32 range travel as doubles (exact up to
  /// 2^53; a {"$bigint": "..."} is exact). The whole mapping, and what is refused, is in
  /// docs/from-node.md.
  ///
  /// A received message that V8's format does not allow, or that forkipc refuses (a cyclic
  /// value, one nested deeper than max_nesting_depth, one that shared references expand past
  /// four times max_message_size), is an "error" event, and the channel goes on; a frame
  /// announcing more than max_message_size (or 2 GiB) closes it. Large binary values travel
  /// through the socket, on the shared-memory transport through its rings, never spilled to a
  /// region of their own; send_bytes needs binary.
  advanced,
};

}  // namespace forkipc
