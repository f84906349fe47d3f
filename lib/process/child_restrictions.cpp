#include "process/child_restrictions.hpp"

#include <grp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "process/platform.hpp"

namespace forkipc::detail {
namespace {

// The soft limit is the value, the hard one `grace` more, so that the soft limit's signal comes
// first where there is one.
int set_limit(int resource, std::uint64_t value, std::uint64_t grace = 0) noexcept {
  if (value == child_restrictions::unlimited) return 0;
  const rlimit limit{static_cast<rlim_t>(value), static_cast<rlim_t>(value + grace)};
  return ::setrlimit(resource, &limit) == 0 ? 0 : errno;
}

}  // namespace

restriction_failure restrict_this_process(const child_restrictions& r) noexcept {
  using enum restriction_step;
  // First, as libuv does: a child started as a session leader cannot call setsid.
  if (r.new_session && ::setsid() < 0) return {errno, new_session};
  // The limits before the user changes: an unprivileged user could not raise a hard limit.
  if (const int failed = set_limit(RLIMIT_AS, r.memory_bytes)) return {failed, memory_limit};
  // SIGXCPU at the limit, which ends the child (or lets it end itself), then SIGKILL a second
  // later: with both limits equal the kernel would send SIGKILL alone.
  if (const int failed = set_limit(RLIMIT_CPU, r.cpu_seconds, 1)) return {failed, cpu_limit};
  if (const int failed = set_limit(RLIMIT_NOFILE, r.open_files)) return {failed, open_files_limit};
  // The supplementary groups would keep root's (group 0) after setuid. Dropping them needs the
  // privilege setgid and setuid need too; without it, setgroups' EPERM is no news: the step
  // that needs it says so (libuv ignores this call's failure the same way).
  if (r.change_group || r.change_user) ::setgroups(0, nullptr);
  // The group first: once the user is not root any more it could not change.
  if (r.change_group && ::setgid(r.group) != 0) return {errno, group};
  if (r.change_user && ::setuid(r.user) != 0) return {errno, user};
  if (r.no_new_privileges)
    if (const int failed = forbid_new_privileges()) return {failed, no_new_privileges};
  // Last: Linux clears the death signal when the process's user or group changes.
  if (r.parent != 0) {
    if (const int failed = request_parent_death_signal(SIGKILL)) return {failed, parent_death_signal};
    if (::getppid() != r.parent) ::raise(SIGKILL);  // the parent died before it was asked
  }
  return {};
}

std::string describe(restriction_step step, const child_restrictions& r) {
  switch (step) {
    case restriction_step::none:
      break;
    case restriction_step::new_session:
      return "setsid (detached)";
    case restriction_step::memory_limit:
      return "setrlimit(RLIMIT_AS, " + std::to_string(r.memory_bytes) + ")";
    case restriction_step::cpu_limit:
      return "setrlimit(RLIMIT_CPU, " + std::to_string(r.cpu_seconds) + ")";
    case restriction_step::open_files_limit:
      return "setrlimit(RLIMIT_NOFILE, " + std::to_string(r.open_files) + ")";
    case restriction_step::group:
      return "setgid(" + std::to_string(r.group) + ")";
    case restriction_step::user:
      return "setuid(" + std::to_string(r.user) + ")";
    case restriction_step::no_new_privileges:
      return "no new privileges";
    case restriction_step::parent_death_signal:
      return "the parent's death signal";
  }
  return {};
}

}  // namespace forkipc::detail
