// forkipc-pdeathsig: how fork_options::kill_on_parent_exit starts a child. Installed in
// libexecdir/forkipc; spawn.cpp runs it in the program's place, with the child's descriptors,
// environment and working directory already set up:
//
//   forkipc-pdeathsig <parent pid> <program> <argv[0]> <argv[1]>...
//
// It asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG; it survives execve), checks that
// the parent did not die before that (getppid() is then another process, and no signal would
// ever come: it kills itself, as the signal would have), and execs program. fd 4 is a
// close-on-exec pipe to the parent: a failed exec writes its errno there, so that fork() throws
// the same error as for a program started directly.
//
// Why a helper program: posix_spawn, which forkipc starts every child with, has no hook to run
// code in the child before exec. The alternative, a clone(CLONE_VM | CLONE_VFORK) child of our
// own, would redo posix_spawn's descriptor and signal set-up in a context where only raw system
// calls are safe (a shared address space, no own thread state for the sanitizers' interceptors).
// One extra exec is the price; it is only paid by children that ask for this option.
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>

namespace {

constexpr int error_pipe = 4;

[[noreturn]] void fail(int err) {
  while (::write(error_pipe, &err, sizeof err) < 0 && errno == EINTR) {
  }
  ::_exit(127);
}

}  // namespace

int main(int argc, char** argv) {
  ::fcntl(error_pipe, F_SETFD, FD_CLOEXEC);  // the program must not inherit it
  if (argc < 4) fail(EINVAL);
  const long expected_parent = std::strtol(argv[1], nullptr, 10);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(errno);
  if (::getppid() != expected_parent) ::raise(SIGKILL);  // the parent died before the prctl
  ::execv(argv[2], argv + 3);  // the environment is this process's: the one fork() prepared
  fail(errno);
}
