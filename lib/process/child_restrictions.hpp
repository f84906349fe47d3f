// child_restrictions: what a child is held to before its program runs (fork_options::limits,
// no_new_privileges, kill_on_parent_exit), applied the same way by the helper program before it
// execs a spawned child and by a zygote in the child it forked.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <limits>

namespace forkipc::detail {

struct child_restrictions {
  /// No limit.
  static constexpr std::uint64_t unlimited = std::numeric_limits<std::uint64_t>::max();

  std::uint64_t memory_bytes = unlimited;  // RLIMIT_AS
  std::uint64_t cpu_seconds = unlimited;   // RLIMIT_CPU
  std::uint64_t open_files = unlimited;    // RLIMIT_NOFILE
  bool no_new_privileges = false;
  /// Not 0: SIGKILL this process when its parent, this pid, ends (kill_on_parent_exit).
  pid_t parent = 0;
};

/// Applies r to the calling process: the limits (soft and hard), then no new privileges, then
/// the death signal, after which a parent that is not r.parent any more (it died before) kills
/// the process as the signal would have. 0, or the errno of the step that failed. Only
/// async-signal-safe calls: it runs between fork and exec, or in a freshly forked child.
int restrict_this_process(const child_restrictions& r) noexcept;

}  // namespace forkipc::detail
