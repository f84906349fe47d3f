// process: one started child, by pid and pidfd; reaped exactly once, whatever happens.
#pragma once

#include <sys/types.h>

#include <optional>
#include <system_error>

#include "transport/poll.hpp"
#include "unique_fd.hpp"

namespace forkipc::detail {

/// How a child ended: exactly one of the two is set.
struct exit_status {
  std::optional<int> code;    // it exited with this code
  std::optional<int> signal;  // a signal ended it
};

/// Signals go through the pidfd, so they can never reach another process that reused the pid,
/// and after the child is reaped they fail cleanly (ESRCH). The destructor of a process not yet
/// reaped sends SIGKILL and reaps it: no path leaves a zombie.
class process {
 public:
  process(pid_t pid, unique_fd pidfd) noexcept;
  process(process&& other) noexcept;
  process& operator=(process&&) = delete;
  ~process();

  pid_t pid() const noexcept { return pid_; }
  /// Readable once the child has ended (for an event loop to watch).
  int pidfd() const noexcept { return pidfd_.get(); }
  bool reaped() const noexcept { return status_.has_value(); }
  const std::optional<exit_status>& status() const noexcept { return status_; }

  /// Sends signal; false with ec == ESRCH when the child has already ended.
  bool send_signal(int signal, std::error_code& ec) noexcept;

  /// Reaps the child if it has ended; never blocks.
  std::optional<exit_status> try_reap();

  /// Waits until the child ends, and reaps it; nullopt if the deadline passes first.
  std::optional<exit_status> wait(const deadline& until = deadline{});

 private:
  pid_t pid_;
  unique_fd pidfd_;
  std::optional<exit_status> status_;
};

/// pidfd_open(2); glibc 2.36 has no C++-usable declaration of it.
unique_fd open_pidfd(pid_t pid, std::error_code& ec) noexcept;

}  // namespace forkipc::detail
