// The posix backend of process/platform.hpp's calls made in a child before its program runs.
// POSIX has no way to learn of a parent's death before it happens, to give up the gain of
// privileges at exec, or to fork a child for another process (FreeBSD's procctl and pdfork and
// Linux's prctl and clone3 are their own): spawn_can says so, and fork() refuses
// kill_on_parent_exit and no_new_privileges, and forkipc::zygote refuses to start, before
// anything runs.
#include <cerrno>

#include "process/platform.hpp"

namespace forkipc::detail {

int request_parent_death_signal(int) noexcept { return ENOSYS; }

int forbid_new_privileges() noexcept { return ENOSYS; }

pid_t fork_beside_parent() noexcept {
  errno = ENOSYS;
  return -1;
}

}  // namespace forkipc::detail
