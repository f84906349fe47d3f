// The linux backend of process/platform.hpp's request_parent_death_signal, for the helper.
#include <sys/prctl.h>

#include <cerrno>

#include "process/platform.hpp"

namespace forkipc::detail {

int request_parent_death_signal(int signal) noexcept { return ::prctl(PR_SET_PDEATHSIG, signal) == 0 ? 0 : errno; }

}  // namespace forkipc::detail
