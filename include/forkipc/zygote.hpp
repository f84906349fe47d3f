// forkipc::zygote: a started copy of a program that forks children on request, without exec.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <forkipc/child_process.hpp>
#include <forkipc/detail/asio.hpp>
#include <forkipc/detail/export.hpp>
#include <forkipc/fork_options.hpp>

namespace forkipc {

class FORKIPC_API zygote;  // exported: see forkipc/detail/export.hpp

/// A program started once, which forks a child whenever fork() asks: each child starts as a
/// copy of the program at that moment, with no exec, no dynamic loading and no static
/// initialisation to pay for again (Android's and Chromium's zygotes, Python's forkserver).
///
/// The program needs no code for it. It is started as fork() starts a child, runs its start-up,
/// and at its first call into forkipc's child side (has_parent(), parent(), sync::parent,
/// serve()) it becomes the zygote: that call never returns in the zygote, which from then on
/// waits for requests and forks. In each child the call returns, with the child's own channel,
/// as if the child had been spawned. So whatever the program does before that call (loading a
/// model, reading its configuration, warming caches) is done once, and shared.
///
/// Children are this process's own children (on Linux the zygote forks them beside itself,
/// CLONE_PARENT): fork() returns a child_process with the same events, kill(), timeout and exit
/// codes as forkipc::fork()'s. What a child shares with its siblings, being a copy: its memory
/// layout (address-space randomisation happened once, in the zygote), everything initialised
/// before the first call (the state of random generators: re-seed them in the child, e.g. from
/// std::random_device; caches; a connection opened during start-up, which would then be shared
/// and must not be), and open files. pthread_atfork handlers do not run. The zygote refuses to
/// fork while it has more than one thread (a fork copies only the thread that forks): start
/// threads after the first call into forkipc.
///
/// The zygote does not keep io.run() from returning: it is waited for only by fork() and by the
/// destructor. It ends when this object is destroyed (its channel closes) and when this process
/// dies, however it dies; its children live on, as children of this process. It keeps one
/// child forked ahead of the next fork() (a spare, a child of this process too), which the
/// destructor kills and reaps if it was never handed out, even when the zygote was killed before
/// it could tell of it (the spare then does).
class zygote {
 public:
  /// Starts module_path args... as fork() would, with options (serialization, transport, env,
  /// cwd, timeout, kill_signal, silent, limits... are each child's; the zygote itself gets no
  /// timeout, no limits and keeps the parent's stdout and stderr). Returns once the program is
  /// running, not once it has become the zygote. Throws as fork() does, and
  /// std::errc::not_supported on the posix backend, which has no way to fork a child for
  /// another process (Linux's CLONE_PARENT).
  zygote(boost::asio::io_context& io, std::string module_path, std::vector<std::string> args = {},
         fork_options options = {});
  /// Ends the zygote: closes its channel, gives it 500 ms, then sends SIGKILL, and reaps it and
  /// the spare it forked ahead. Its children go on.
  ~zygote();
  /// Not copyable: a zygote owns its process.
  zygote(const zygote&) = delete;
  /// Not copyable.
  zygote& operator=(const zygote&) = delete;

  /// A new child, forked by the zygote. Blocks until the zygote answers: at once once it runs,
  /// the first time once the program's start-up reached its first call into forkipc. Throws
  /// forkipc::error: errc::channel_closed when the zygote has ended (a crash in its start-up,
  /// say) and left no child forked ahead; the zygote's reason when it cannot fork (EAGAIN: it
  /// has more than one thread); std::errc::timed_out when it did not answer within 30 s (a
  /// program that never calls into forkipc's child side); or std::errc::protocol_not_supported
  /// when the program was built with a forkipc whose zygote protocol differs from this one's
  /// (the zygote is then of no use: start the program built with this forkipc). For the
  /// io_context's thread, or before it runs.
  std::shared_ptr<child_process> fork();

  /// The zygote's process id.
  pid_t pid() const noexcept;

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace forkipc
