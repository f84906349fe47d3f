// forkipc::fork_options: how fork() starts a child.
#pragma once

#include <chrono>
#include <csignal>
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <forkipc/serialization.hpp>

namespace forkipc {

/// Options of fork() and sync::child, after Node's child_process.fork options. Every field is
/// optional; designated initializers read well: `{.exec_path = "node", .silent = true}`.
// Every member has a default member initializer, even the empty ones, so that designated
// initializers that name only some fields compile without -Wmissing-field-initializers warnings.
struct fork_options {
  /// Working directory of the child; default: the parent's. A relative module_path is resolved
  /// against it, as exec() would.
  std::optional<std::filesystem::path> cwd{};

  /// The child's whole environment; default: the parent's. forkipc adds NODE_CHANNEL_FD and
  /// NODE_CHANNEL_SERIALIZATION_MODE in both cases.
  std::optional<std::map<std::string, std::string>> env{};

  /// An interpreter to run module_path with, e.g. "node"; a name without a slash is looked up in
  /// the PATH of the child's environment. Default: module_path is the program itself.
  std::optional<std::filesystem::path> exec_path{};

  /// Arguments for the interpreter, placed before module_path (Node's execArgv). Needs exec_path.
  std::vector<std::string> exec_args{};

  /// false: the child shares the parent's stdin, stdout and stderr. true: its stdin is /dev/null
  /// and its stdout and stderr are captured; child_process emits each chunk as a "stdout" or
  /// "stderr" event (sync::child discards them).
  bool silent = false;

  /// The wire format of the channel.
  forkipc::serialization serialization = forkipc::serialization::json;

  /// 0: none. Otherwise the child is sent kill_signal once it has run this long.
  std::chrono::milliseconds timeout{0};

  /// The signal the timeout sends.
  int kill_signal = SIGTERM;

  /// An incoming message longer than this (in bytes, without its newline) is an "error" event
  /// and is discarded as it streams in, never buffered whole. In binary serialization it also
  /// bounds the shared-memory values of one message, and a frame announcing more closes the
  /// channel (a length cannot be skipped safely).
  std::size_t max_message_size = std::size_t{64} << 20;

  /// In binary serialization, binary values of at least this many bytes travel through shared
  /// memory (an 8 MiB ring both processes map, a sealed memfd), not through the socket; 0: never.
  /// A child's own sends use the default. A value that does not fit the ring's free space is
  /// streamed: send() returns once the receiver has copied all but the last 8 MiB of it, or
  /// after the receiver made no progress for 20 ms, when the rest goes to a file of its own.
  std::size_t shared_memory_threshold = std::size_t{1} << 20;

  /// The most memory a child that stops reading can cost the parent. send() returns false from
  /// 128 KiB of unwritten bytes on (the high-water mark, as in Node) but still queues; once this
  /// many bytes wait, it refuses: the message is not queued, send() returns false, and on_sent
  /// (or an "error" event without one) gets errc::send_queue_full. The queue holds at most this
  /// plus the one message that crossed it.
  std::size_t max_queued_bytes = std::size_t{1} << 30;

  /// true: the child is sent SIGKILL when the parent dies, however it dies (SIGKILL included),
  /// through Linux's PR_SET_PDEATHSIG; a parent that died while the child was starting is seen
  /// too. posix_spawn has no hook to run code in the child, so such a child is started through
  /// forkipc's small helper program, forkipc-pdeathsig, installed in libexecdir/forkipc (found
  /// through $FORKIPC_LIBEXECDIR first, for an uninstalled build), which sets the signal and
  /// then execs the program; fork() throws as usual when the program cannot be started.
  ///
  /// Linux sends the signal when the *thread* that started the child ends, not the process: call
  /// fork() from a thread that outlives the child (the main thread, or the io_context's), never
  /// from a short-lived worker thread, or the child is killed when that thread returns.
  bool kill_on_parent_exit = false;
};

}  // namespace forkipc
