// forkipc::fork and forkipc::child_process: start a child program with a message channel.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <forkipc/channel_end.hpp>
#include <forkipc/detail/export.hpp>
#include <forkipc/detail/asio.hpp>
#include <forkipc/detail/process_events.hpp>
#include <forkipc/error.hpp>
#include <forkipc/fork_options.hpp>
#include <forkipc/json.hpp>

namespace forkipc {

namespace detail {
struct spawned_child;
}

class FORKIPC_API child_process;  // exported: see forkipc/detail/export.hpp

/// The parent's view of one child started by fork(), after Node's ChildProcess.
///
/// Events, in the order they come for one child (each listener runs on the io_context's thread,
/// never inside fork() itself):
///
/// | event        | listener                                                  | when |
/// |--------------|-----------------------------------------------------------|------|
/// | "spawn"      | void()                                                    | the child started: always first |
/// | "message"    | void(const json&[, forkipc::handle])                      | a message arrived, in the order sent |
/// | "bytes"      | void(std::span<const std::byte>)                          | the child's send_bytes(), in order with messages; the span is valid during the call |
/// | "stdout"     | void(std::string_view)                                    | output of a `silent` child, as it comes |
/// | "stderr"     | void(std::string_view)                                    | likewise for its stderr |
/// | "disconnect" | void()                                                    | the channel closed, from either side |
/// | "exit"       | void(std::optional<int> code, std::optional<int> signal)  | the child ended and was reaped; exactly one is set |
/// | "close"      | as "exit"                                                 | after "exit" and "disconnect": always exactly once, last |
/// | "error"      | void(const forkipc::error&)                               | bad input from the child, a failed send or kill |
///
/// A listener may also take no arguments. Every message the child wrote before it ended is
/// delivered before "disconnect". After "close" the listeners are released, so a listener may
/// capture the shared_ptr to its own child_process without keeping it alive for ever. Without an
/// "error" listener, errors are written to stderr and the child goes on.
///
/// The child keeps its io_context busy until "close": an io_context::run() returns only after
/// every child it started has ended and been reaped. If the io_context is destroyed first, each
/// unfinished child's channel is closed, and a child still running 500 ms later gets SIGKILL; it
/// is reaped either way.
///
/// send(), send_bytes() (channel_end's) and kill() may be called from any thread; the rest from
/// the io_context's thread, or before it runs.
class child_process : public channel_end, public std::enable_shared_from_this<child_process> {
  struct private_tag {};

 public:
  /// For fork() only, which makes every child_process (private_tag cannot be named elsewhere).
  explicit child_process(private_tag);
  /// Runs once no shared_ptr to the child is left. forkipc's pending operations hold one until
  /// "close", so dropping yours does not stop the events. Destroyed with the child still running
  /// (its io_context was destroyed first), it closes the channel, gives the child 500 ms, then
  /// sends SIGKILL, and reaps it.
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Adds listener to event. Throws std::invalid_argument, naming the valid choices, for an
  /// unknown event or a listener that cannot take the event's arguments.
  template <class F>
  child_process& on(std::string_view event, F&& listener) {
    events_.add(event, std::forward<F>(listener), false);
    return *this;
  }

  /// As on(), for the next occurrence of event only.
  template <class F>
  child_process& once(std::string_view event, F&& listener) {
    events_.add(event, std::forward<F>(listener), true);
    return *this;
  }

  /// Sends signal to the child. Returns true when it was delivered; false when the child has
  /// already ended, or the signal could not be sent (an "error" event then says why).
  bool kill(int signal = SIGTERM);

  /// Writes data to a silent child's stdin (fork_options::silent; Node's child.stdin.write()).
  /// The bytes go in order, as fast as the child reads them; what it has not read yet waits in
  /// this process. on_written (optional) runs on the io_context's thread once the child's stdin
  /// took all of data, or with the error that kept it from doing so (std::errc::broken_pipe: the
  /// child closed its stdin, or ended, first); without on_written such a failure is an "error"
  /// event. Returns false once more than 64 KiB wait (Node's highWaterMark): writing on is
  /// allowed, and queued. A child that is not silent has no such stdin: std::logic_error, as
  /// after end_stdin(). For the io_context's thread, or before it runs.
  bool write_stdin(std::string_view data, std::function<void(std::error_code)> on_written = {});
  /// Closes a silent child's stdin once what was written is taken: the child reads its end
  /// (Node's child.stdin.end()). Later calls do nothing. std::logic_error for a child that is
  /// not silent.
  void end_stdin();

  /// The child's process id; it stays valid (the process is not reaped) until "exit" is emitted.
  pid_t pid() const noexcept;
  /// true once kill() (or the timeout) delivered a signal.
  bool killed() const noexcept;
  /// The exit code once the child ended normally; nullopt while it runs, or when a signal ended
  /// it. For the io_context's thread.
  std::optional<int> exit_code() const noexcept;
  /// The signal that ended the child (SIGTERM is 15); nullopt while it runs, or when it exited
  /// normally. For the io_context's thread.
  std::optional<int> signal_code() const noexcept;

 private:
  friend std::shared_ptr<child_process> fork(boost::asio::io_context&, std::string,
                                             std::vector<std::string>, fork_options);
  friend class zygote;
  class impl;
  // What fork() and zygote::fork() share: the child_process of a child just started.
  static std::shared_ptr<child_process> start(boost::asio::io_context& io, detail::spawned_child&& spawned,
                                              const fork_options& options);

  detail::emitter<detail::events::spawn, detail::events::message, detail::events::bytes,
                  detail::events::disconnect,
                  detail::events::exit, detail::events::close, detail::events::error,
                  detail::events::stdout_data, detail::events::stderr_data>
      events_;
  std::unique_ptr<impl> impl_;
};

/// Starts `module_path args...` (or `exec_path exec_args... module_path args...` when
/// options.exec_path is set) with an IPC channel on its fd 3, NODE_CHANNEL_FD=3 and
/// NODE_CHANNEL_SERIALIZATION_MODE=json in its environment, so that a Node.js script or a program
/// using forkipc::parent() is a valid child. The child inherits fds 0, 1, 2 and its channel,
/// nothing else (but what options.extra_fds gives it, from fd 4 up). Its listeners run on io's thread.
///
/// Throws forkipc::error naming the path and the reason when the program cannot be started
/// (missing, not executable, a bad cwd); no process and no descriptor stays behind then. Throws
/// std::invalid_argument for options that contradict each other.
FORKIPC_API std::shared_ptr<child_process> fork(boost::asio::io_context& io, std::string module_path,
                                    std::vector<std::string> args = {}, fork_options options = {});

/// As above, on forkipc::default_context().
FORKIPC_API std::shared_ptr<child_process> fork(std::string module_path, std::vector<std::string> args = {},
                                    fork_options options = {});

}  // namespace forkipc
