// forkipc::channel_options: the limits of one end of a channel.
#pragma once

#include <cstddef>

namespace forkipc {

/// The limits of one end of a channel. A child passes its own to forkipc::parent() or
/// sync::parent; a parent sets the fields of the same names in fork_options, whose defaults
/// these are.
struct channel_options {
  /// An incoming message longer than this (in bytes, without its newline) is an "error" event
  /// and is discarded as it streams in, never buffered whole. In binary serialization it also
  /// bounds the shared-memory values of one message (a message over it is an "error" and is
  /// skipped), and a frame announcing more closes the channel (a length cannot be skipped
  /// safely).
  std::size_t max_message_size = std::size_t{64} << 20;

  /// In binary serialization, binary values of at least this many bytes travel through shared
  /// memory (an 8 MiB ring both processes map, a sealed memfd), not through the socket; 0: never.
  /// A value that does not fit the ring's free space is streamed: send() returns once the
  /// receiver has copied all but the last 8 MiB of it, or after the receiver made no progress
  /// for 20 ms, when the rest goes to a file of its own.
  std::size_t shared_memory_threshold = std::size_t{1} << 20;

  /// The most memory a peer that stops reading can cost this end. send() returns false from
  /// 128 KiB of unwritten bytes on (the high-water mark, as in Node) but still queues; once this
  /// many bytes wait, it refuses: the message is not queued, send() returns false, and on_sent
  /// (or an "error" event without one) gets errc::send_queue_full. The queue holds at most this
  /// plus the one message that crossed it.
  std::size_t max_queued_bytes = std::size_t{1} << 30;

  /// The deepest nesting of arrays and objects a message may have, in either direction (`[]` is
  /// 1 deep, `[[]]` 2). An incoming message nested deeper is an "error" event
  /// (errc::nesting_too_deep) with an excerpt, and the channel goes on with the next one; a
  /// message to send that is nested deeper is refused (send() throws errc::unencodable_message).
  ///
  /// Why a limit: forkipc walks values without recursion, but nlohmann::json's own dump(), copy
  /// and comparison recurse, as user code often does, so a value thousands of levels deep can
  /// exhaust a thread's stack wherever it is walked next. The default takes every message Node
  /// can send (its JSON.stringify stops at about 4,100 levels with its default stack) and keeps
  /// a copy or dump() of the deepest value within about 1 MiB of stack in an optimized build.
  std::size_t max_nesting_depth = 5000;
};

}  // namespace forkipc
