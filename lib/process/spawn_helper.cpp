// forkipc-spawn: how a child is started when posix_spawn cannot do all that it needs in the
// child before exec (process/platform.hpp's spawn_can). Installed in libexecdir/forkipc;
// spawn.cpp runs it in the program's place, with the child's descriptors 0 to 3 and its
// environment already set up:
//
//   forkipc-spawn <close from> <directory or ""> <parent pid or 0> <program> <argv[0]>...
//
// In this order it closes every descriptor from <close from> up (but its error pipe), enters
// <directory>, asks for SIGKILL when its parent dies (<parent pid> not 0: PR_SET_PDEATHSIG on
// Linux, which survives execve; then it checks that the parent did not die before that, as
// getppid() would be another process, and no signal would ever come: it kills itself, as the
// signal would have), and execs <program>. fd 4 is a pipe to the parent, made close-on-exec
// here: any step that fails writes its errno there, so that fork() throws the same error as for
// a program started directly.
//
// Why a helper program: posix_spawn has no hook to run code in the child before exec. The
// alternative, a fork() or clone(CLONE_VM | CLONE_VFORK) child of our own, would redo
// posix_spawn's descriptor and signal set-up where only async-signal-safe calls are allowed (a
// multithreaded parent; a shared address space, no own thread state for the sanitizers'
// interceptors). One exec more is the price, paid by the children that need it: on the posix
// backend all of them, on the linux one those with kill_on_parent_exit (and all, with a glibc
// before 2.34, which cannot close descriptors in posix_spawn). It uses nothing but libc.
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>

#include "process/platform.hpp"

namespace {

constexpr int error_pipe = 4;

[[noreturn]] void fail(int err) {
  while (::write(error_pipe, &err, sizeof err) < 0 && errno == EINTR) {
  }
  ::_exit(127);
}

bool is_number(const char* text, long& value) {
  char* end = nullptr;
  errno = 0;
  value = std::strtol(text, &end, 10);
  return errno == 0 && end != text && *end == '\0';
}

// Closes every descriptor from `from` up but the error pipe. /dev/fd lists them (Linux, macOS,
// FreeBSD with fdescfs); a listing without the descriptor reading it is not the whole list
// (FreeBSD's /dev/fd without fdescfs shows 0 to 2 only), and then every number below the limit
// on open files is closed, one by one.
void close_from(int from) {
  if (DIR* dir = ::opendir("/dev/fd")) {
    const int own = ::dirfd(dir);
    bool whole = false;
    while (const dirent* entry = ::readdir(dir)) {
      long fd;
      if (!is_number(entry->d_name, fd)) continue;
      if (fd == own) {
        whole = true;
      } else if (fd >= from && fd != error_pipe) {
        ::close(static_cast<int>(fd));
      }
    }
    ::closedir(dir);
    if (whole) return;
  }
  rlimit limit{};
  const long most = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                        ? static_cast<long>(limit.rlim_cur)
                        : ::sysconf(_SC_OPEN_MAX);
  for (long fd = from; fd < most; ++fd)
    if (fd != error_pipe) ::close(static_cast<int>(fd));
}

}  // namespace

int main(int argc, char** argv) {
  ::fcntl(error_pipe, F_SETFD, FD_CLOEXEC);  // the program must not inherit it
  long from = 0, parent = 0;
  if (argc < 6 || !is_number(argv[1], from) || !is_number(argv[3], parent) || from <= error_pipe) fail(EINVAL);
  close_from(static_cast<int>(from));
  if (*argv[2] != '\0' && ::chdir(argv[2]) != 0) fail(errno);
  if (parent != 0) {
    if (const int failed = forkipc::detail::request_parent_death_signal(SIGKILL)) fail(failed);
    if (::getppid() != parent) ::raise(SIGKILL);  // the parent died before it was asked
  }
  ::execv(argv[4], argv + 5);  // the environment is this process's: the one fork() prepared
  fail(errno);
}
