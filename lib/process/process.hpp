// process: one started child, by pid; reaped exactly once, whatever happens.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <system_error>

#include "transport/poll.hpp"
#include "unique_fd.hpp"

namespace forkipc::detail {

/// How a child ended: exactly one of the two is set (neither when someone else reaped it).
struct exit_status {
  std::optional<int> code;    // it exited with this code
  std::optional<int> signal;  // a signal ended it
};

/// Signals never reach another process that reused the pid: they go through the child's exit
/// descriptor where it has one (a pidfd), and otherwise by pid under the same lock as the
/// reaping, so never after it (the pid is the child's until it is reaped). After the child is
/// reaped they fail cleanly (ESRCH). The destructor of a process not yet reaped sends SIGKILL
/// and reaps it: no path leaves a zombie. Its exit is waited for as process/exit_watch.hpp says.
class process {
 public:
  /// Takes charge of child pid, just started by this process, with its exit descriptor
  /// (process/platform.hpp's open_exit_descriptor; empty where there is none).
  process(pid_t pid, unique_fd exit_descriptor) noexcept;
  process(process&& other) noexcept;
  process& operator=(process&&) = delete;
  ~process();

  pid_t pid() const noexcept { return pid_; }
  /// Readable once the child has ended, or -1 where there is no such descriptor (then SIGCHLD
  /// tells): for an event loop to watch (exit_watch).
  int exit_descriptor() const noexcept { return exit_descriptor_ ? exit_descriptor_.get() : -1; }
  bool reaped() const noexcept { return status_.has_value(); }
  const std::optional<exit_status>& status() const noexcept { return status_; }

  /// Sends signal, from any thread; false with ec == ESRCH when the child was reaped already.
  bool send_signal(int signal, std::error_code& ec) noexcept;

  /// Reaps the child if it has ended; never blocks.
  std::optional<exit_status> try_reap();

  /// Waits until the child ends, and reaps it; nullopt if the deadline passes first.
  std::optional<exit_status> wait(const deadline& until = deadline{});

 private:
  pid_t pid_;
  unique_fd exit_descriptor_;
  std::mutex reaping_;  // a signal by pid and the reaping never cross
  std::optional<exit_status> status_;
};

}  // namespace forkipc::detail
