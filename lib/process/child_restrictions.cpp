#include "process/child_restrictions.hpp"

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

int restrict_this_process(const child_restrictions& r) noexcept {
  if (const int failed = set_limit(RLIMIT_AS, r.memory_bytes)) return failed;
  // SIGXCPU at the limit, which ends the child (or lets it end itself), then SIGKILL a second
  // later: with both limits equal the kernel would send SIGKILL alone.
  if (const int failed = set_limit(RLIMIT_CPU, r.cpu_seconds, 1)) return failed;
  if (const int failed = set_limit(RLIMIT_NOFILE, r.open_files)) return failed;
  if (r.no_new_privileges)
    if (const int failed = forbid_new_privileges()) return failed;
  if (r.parent != 0) {
    if (const int failed = request_parent_death_signal(SIGKILL)) return failed;
    if (::getppid() != r.parent) ::raise(SIGKILL);  // the parent died before it was asked
  }
  return 0;
}

}  // namespace forkipc::detail
