// The posix backend of process/platform.hpp's request_parent_death_signal: POSIX has no way to
// learn of a parent's death before it happens (FreeBSD's procctl and Linux's prctl are their
// own), so spawn_can.parent_death_signal is false and fork() refuses kill_on_parent_exit first.
#include <cerrno>

#include "process/platform.hpp"

namespace forkipc::detail {

int request_parent_death_signal(int) noexcept { return ENOSYS; }

}  // namespace forkipc::detail
