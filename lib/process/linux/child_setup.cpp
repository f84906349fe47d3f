// The linux backend of process/platform.hpp's calls made in a child before its program runs:
// prctl, clone3.
#include <linux/sched.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "process/platform.hpp"

namespace forkipc::detail {

int request_parent_death_signal(int signal) noexcept { return ::prctl(PR_SET_PDEATHSIG, signal) == 0 ? 0 : errno; }

int forbid_new_privileges() noexcept { return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : errno; }

// clone3 takes its arguments in a struct, the same on every architecture. exit_signal stays 0:
// with CLONE_PARENT the child gets its parent's own (SIGCHLD). CLONE_CHILD_SETTID writes the
// child's thread id where glibc keeps the calling thread's (the address the kernel was given by
// set_tid_address at start-up), as glibc's fork() does: without it the child's pthread_self()
// would carry the forking process's id.
pid_t fork_beside_parent() noexcept {
  void* tid_address = nullptr;
  clone_args args{};
  args.flags = CLONE_PARENT;
  if (::prctl(PR_GET_TID_ADDRESS, &tid_address, 0, 0, 0) == 0 && tid_address != nullptr) {
    args.flags |= CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    args.child_tid = reinterpret_cast<std::uintptr_t>(tid_address);
  }
  return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

}  // namespace forkipc::detail
