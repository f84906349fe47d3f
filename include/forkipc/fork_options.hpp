// forkipc::fork_options: how fork() starts a child.
#pragma once

#include <sys/types.h>  // uid_t, gid_t

#include <chrono>
#include <csignal>
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <forkipc/abort_signal.hpp>
#include <forkipc/channel_options.hpp>
#include <forkipc/resource_limits.hpp>
#include <forkipc/serialization.hpp>
#include <forkipc/transport.hpp>

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

  /// false: the child shares the parent's stdin, stdout and stderr. true: they are the
  /// parent's, as in Node: child_process emits each chunk of its stdout and stderr as a "stdout"
  /// or "stderr" event, and writes its stdin with write_stdin() and end_stdin() (a socket, as
  /// libuv gives Node's children). sync::child discards the output and gives /dev/null as stdin.
  bool silent = false;

  /// The wire format of the channel.
  forkipc::serialization serialization = forkipc::serialization::json;

  /// What the channel's bytes travel through: the socket (any peer, Node included), or shared
  /// memory (a forkipc child only; see forkipc::transport). The child needs no code for it.
  forkipc::transport transport = forkipc::transport::socket;

  /// 0: none. Otherwise the child is sent kill_signal once it has run this long.
  std::chrono::milliseconds timeout{0};

  /// The signal the timeout sends, and an abort (see signal).
  int kill_signal = SIGTERM;

  /// Node's signal: when its abort_controller aborts, the child is sent kill_signal and, when
  /// that was delivered, child_process emits "error" with errc::aborted (as Node emits an
  /// AbortError); a signal aborted already kills the child as soon as it is started. Its other
  /// events go on as for any kill. sync::child sends kill_signal the same way (its receive()
  /// then sees the end of the channel, and wait() the signal). Default: never aborts.
  abort_signal signal{};

  /// The limits of the parent's end of the channel: see channel_options, whose defaults these
  /// are. The child's end takes its own, from forkipc::parent() or sync::parent.
  ///
  /// The longest incoming message, in bytes: channel_options::max_message_size.
  std::size_t max_message_size = channel_options{}.max_message_size;
  /// The size from which binary values travel through shared memory:
  /// channel_options::shared_memory_threshold.
  std::size_t shared_memory_threshold = channel_options{}.shared_memory_threshold;
  /// The most bytes waiting to be written before send() refuses:
  /// channel_options::max_queued_bytes.
  std::size_t max_queued_bytes = channel_options{}.max_queued_bytes;
  /// The deepest nesting of a message, either way: channel_options::max_nesting_depth.
  std::size_t max_nesting_depth = channel_options{}.max_nesting_depth;

  /// true: the child is sent SIGKILL when the parent dies, however it dies (SIGKILL included),
  /// through Linux's PR_SET_PDEATHSIG; a parent that died while the child was starting is seen
  /// too. posix_spawn has no hook to run code in the child, so such a child is started through
  /// forkipc's small helper program, forkipc-exec, installed in libexecdir/forkipc (found
  /// through $FORKIPC_LIBEXECDIR first, for an uninstalled build), which sets the signal and
  /// then execs the program; fork() throws as usual when the program cannot be started.
  ///
  /// Linux sends the signal when the *thread* that started the child ends, not the process: call
  /// fork() from a thread that outlives the child (the main thread, or the io_context's), never
  /// from a short-lived worker thread, or the child is killed when that thread returns.
  bool kill_on_parent_exit = false;

  /// What the child may consume (see resource_limits): set before its program runs. A child that
  /// passes one ends as the kernel ends it ("exit" and "close" say with which code or signal),
  /// and a pool replaces it. Like kill_on_parent_exit, limits start a spawned child through
  /// forkipc's helper program (a zygote child sets them itself).
  resource_limits limits{};

  /// true: the child, and whatever it starts, can never gain privileges it does not have
  /// (PR_SET_NO_NEW_PRIVS: set-user-ID and set-group-ID programs and file capabilities do not
  /// apply), as for a sandboxed parser or plug-in. Through the helper program too.
  bool no_new_privileges = false;

  /// The user the child runs as (Node's uid): its real, effective and saved user ID, set before
  /// its program runs. With uid or gid, the child's supplementary groups are dropped too where
  /// the parent may (root: else the child would keep root's group 0). Changing the user needs
  /// root (or CAP_SETUID): otherwise fork() throws forkipc::error with EPERM, naming setuid.
  /// The program, its folders, and what it opens must be reachable by that user: an unreachable
  /// program makes fork() throw EACCES. A spawned child is started through forkipc's helper
  /// program (see kill_on_parent_exit); a zygote child sets it itself.
  std::optional<uid_t> uid{};

  /// The group the child runs as (Node's gid): set before uid, with the same rules (setgid:
  /// root or CAP_SETGID, else fork() throws EPERM naming setgid).
  std::optional<gid_t> gid{};

  /// Descriptors the child gets from fd 4 up (Node's stdio array after 'ipc'): extra_fds[i]
  /// becomes the child's 4 + i, a copy (this process keeps its own); -1 leaves that number
  /// closed in the child (Node's 'ignore'). Throws forkipc::error (EBADF) naming a descriptor
  /// that is not open. Node's 'pipe' entries have no counterpart: make a pipe and give its end.
  /// A zygote refuses them (std::errc::not_supported): its children share its descriptors.
  std::vector<int> extra_fds{};

  /// true: the child leads a new session and process group (setsid, Node's detached): it has no
  /// controlling terminal, and a signal to the parent's process group (Ctrl-C in a terminal)
  /// does not reach it. It is still the parent's child: its events, its timeout, and the
  /// parent's destructor apply as to any other (Node's unref() has no counterpart).
  bool detached = false;
};

}  // namespace forkipc
