// child_restrictions: what a child is held to before its program runs (fork_options::limits,
// no_new_privileges, kill_on_parent_exit, detached, gid, uid), applied the same way by the
// helper program before it execs a spawned child and by a zygote in the child it forked.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <limits>
#include <string>

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
  /// setsid (detached).
  bool new_session = false;
  /// setgid, setuid: each only where its flag is set.
  bool change_group = false;
  bool change_user = false;
  gid_t group = 0;
  uid_t user = 0;
};

/// The step of restrict_this_process that failed, for the parent to name (written as a number
/// on the helper's error pipe).
enum class restriction_step : std::int32_t {
  none,  // not one of these: the helper's own (a setting it cannot read, chdir, exec)
  new_session,
  memory_limit,
  cpu_limit,
  open_files_limit,
  group,
  user,
  no_new_privileges,
  parent_death_signal,
};

struct restriction_failure {
  int error = 0;  // 0: none
  restriction_step step = restriction_step::none;
  explicit operator bool() const noexcept { return error != 0; }
};

/// Applies r to the calling process, in this order: a new session; the limits (soft and hard);
/// the groups (the supplementary ones dropped, as libuv does, where the process may), the group,
/// the user; no new privileges; then the death signal, after which a parent that is not
/// r.parent any more (it died before) kills the process as the signal would have. Only
/// async-signal-safe calls: it runs between fork and exec, or in a freshly forked child.
restriction_failure restrict_this_process(const child_restrictions& r) noexcept;

/// What step did to a child that r describes, in words for an error: "setuid(65534)".
std::string describe(restriction_step step, const child_restrictions& r);

}  // namespace forkipc::detail
