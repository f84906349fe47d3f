// forkipc-exec: how a child is started when it needs what posix_spawn cannot set up: a death
// signal (fork_options::kill_on_parent_exit), resource limits (fork_options::limits), no new
// privileges. Installed in libexecdir/forkipc; spawn.cpp runs it in the program's place, with
// the child's descriptors, environment and working directory already set up:
//
//   forkipc-exec <settings> <program> <argv[0]> <argv[1]>...
//
// settings is a comma-separated list (one argument, so that the program's own arguments need no
// escaping), each item applied in this order:
//   as=BYTES, cpu=SECONDS, nofile=COUNT   setrlimit(RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE)
//   nnp                                   PR_SET_NO_NEW_PRIVS
//   parent=PID                            PR_SET_PDEATHSIG (SIGKILL), then a check that the parent
//                                         did not die before it (getppid() is then another
//                                         process, and no signal would ever come: it kills
//                                         itself, as the signal would have)
// then it execs program. fd 4 is a close-on-exec pipe to the parent: a failed setting or exec
// writes its errno there, so that fork() throws the same error as for a program started
// directly. Every setting survives execve.
//
// Why a helper program: posix_spawn, which forkipc starts every child with, has no hook to run
// code in the child before exec. The alternative, a clone(CLONE_VM | CLONE_VFORK) child of our
// own, would redo posix_spawn's descriptor and signal set-up in a context where only raw system
// calls are safe (a shared address space, no own thread state for the sanitizers' interceptors).
// One extra exec is the price; it is only paid by children that ask for these options.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <string_view>

namespace {

constexpr int error_pipe = 4;

[[noreturn]] void fail(int err) {
  while (::write(error_pipe, &err, sizeof err) < 0 && errno == EINTR) {
  }
  ::_exit(127);
}

unsigned long long number(std::string_view text) {
  unsigned long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) fail(EINVAL);
  return value;
}

void set_limit(int resource, std::string_view value) {
  const rlimit limit{static_cast<rlim_t>(number(value)), static_cast<rlim_t>(number(value))};
  if (::setrlimit(resource, &limit) != 0) fail(errno);
}

void apply(std::string_view setting) {
  const auto equals = setting.find('=');
  const std::string_view name = setting.substr(0, equals);
  const std::string_view value = equals == std::string_view::npos ? std::string_view() : setting.substr(equals + 1);
  if (name == "as") {
    set_limit(RLIMIT_AS, value);
  } else if (name == "cpu") {
    set_limit(RLIMIT_CPU, value);
  } else if (name == "nofile") {
    set_limit(RLIMIT_NOFILE, value);
  } else if (name == "nnp") {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(errno);
  } else if (name == "parent") {
    const auto parent = static_cast<pid_t>(number(value));
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(errno);
    if (::getppid() != parent) ::raise(SIGKILL);  // the parent died before the prctl
  } else if (!name.empty()) {
    fail(EINVAL);
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::fcntl(error_pipe, F_SETFD, FD_CLOEXEC);  // the program must not inherit it
  if (argc < 4) fail(EINVAL);
  std::string_view settings = argv[1];
  while (!settings.empty()) {
    const auto comma = settings.find(',');
    apply(settings.substr(0, comma));
    settings = comma == std::string_view::npos ? std::string_view() : settings.substr(comma + 1);
  }
  ::execv(argv[2], argv + 3);  // the environment is this process's: the one fork() prepared
  fail(errno);
}
