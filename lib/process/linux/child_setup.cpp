// The linux backend of process/platform.hpp's calls made in a child before its program runs:
// prctl, clone3, and in a zygote's spare madvise.
#include <linux/sched.h>
#include <sched.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>

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

// /proc/self/maps read with stdio: the spare is single-threaded, and allocates as it likes. The
// read-only file mappings are the code and constants of the program and its libraries; the
// writable ones are left alone (populating them for writing would copy each page, which the
// child may never write).
void map_program_code() noexcept {
#ifdef MADV_POPULATE_READ
  std::FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return;
  char line[4096];
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    unsigned long start = 0, end = 0, inode = 0;
    char permissions[5] = {};
    if (std::sscanf(line, "%lx-%lx %4s %*s %*s %lu", &start, &end, permissions, &inode) != 4) continue;
    if (inode == 0 || permissions[0] != 'r' || permissions[1] != '-') continue;
    ::madvise(reinterpret_cast<void*>(start), end - start, MADV_POPULATE_READ);
  }
  std::fclose(maps);
#endif
}

}  // namespace forkipc::detail
