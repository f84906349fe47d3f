// child_policy: how a parent treats its child, the same in both parent APIs.
#pragma once

#include <chrono>

#include <forkipc/fork_options.hpp>

#include "process/process.hpp"
#include "transport/poll.hpp"

namespace forkipc::detail {

/// What child_process (on an io_context) and sync::child (blocking) both do with a child: after
/// fork_options::timeout it is sent kill_signal (each API enforces the timeout its own way: a
/// timer, or the blocking call under way when it passes); and when the object that owns it goes
/// away while it still runs, its channel is closed first, it gets grace_period to take the hint
/// and exit, and is then sent SIGKILL and reaped (let_go).
struct child_policy {
  /// How long a child whose channel its parent object closed on its way out has to exit.
  static constexpr std::chrono::milliseconds grace_period{500};

  explicit child_policy(const fork_options& options) noexcept
      : timeout(options.timeout), kill_signal(options.kill_signal) {}

  /// 0: none.
  std::chrono::milliseconds timeout;
  int kill_signal;

  /// When kill_signal is due: never without a timeout. Counted from the call.
  deadline kill_deadline() const noexcept {
    return timeout.count() > 0 ? deadline(timeout) : deadline();
  }

  /// The owner goes away, the child's channel closed: waits up to grace_period for the child to
  /// exit; the process' destructor then SIGKILLs and reaps it if it did not.
  static void let_go(process& child) {
    if (!child.reaped()) child.wait(deadline(grace_period));
  }
};

}  // namespace forkipc::detail
