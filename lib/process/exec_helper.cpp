// forkipc-exec: how a child is started when it needs what posix_spawn cannot set up on this
// system (process/platform.hpp's spawn_can): closing every descriptor it must not inherit (the
// posix backend, glibc before 2.34), entering its working directory (glibc before 2.29), a
// death signal (fork_options::kill_on_parent_exit), resource limits (fork_options::limits), no
// new privileges, another user or group (fork_options::uid, gid), a new session where
// posix_spawn has none (fork_options::detached, posix backend). Installed in libexecdir/forkipc; spawn.cpp runs it in the program's place,
// with the child's descriptors 0 to 3 and its environment already set up:
//
//   forkipc-exec [error_fd=FD] <setting>... -- <program> <argv[0]> <argv[1]>...
//
// Each setting is one argument (so that no path needs escaping):
//   close_from=FD                         closes every descriptor from FD up but its error pipe
//   cd=DIR                                chdir(DIR)
//   as=BYTES, cpu=SECONDS, nofile=COUNT   setrlimit(RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE)
//   nnp                                   no new privileges
//   parent=PID                            SIGKILL when the parent dies
//   setsid                                a new session (detached, where posix_spawn cannot)
//   gid=GID, uid=UID                      setgid, setuid (and the supplementary groups dropped)
// All but close_from and cd are applied after those two, by process/child_restrictions.hpp
// (which a zygote's child uses too); then it execs program. FD (4 unless given: the first
// above the child's extra descriptors) is a pipe to the parent, made close-on-exec here: a failed setting or exec writes its errno there, and the
// restriction_step that failed, so that fork() throws the same error as for a program started
// directly, naming the step. Every setting survives execve.
//
// Why a helper program: posix_spawn has no hook to run code in the child before exec. The
// alternative, a fork() or clone(CLONE_VM | CLONE_VFORK) child of our own, would redo
// posix_spawn's descriptor and signal set-up where only async-signal-safe calls are allowed (a
// multithreaded parent; a shared address space, no own thread state for the sanitizers'
// interceptors). One exec more is the price, paid by the children that need it. It uses nothing
// but libc.
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <string_view>

#include "process/child_restrictions.hpp"

namespace {

// Where the error pipe is: 4, or what the first argument says ("error_fd=N") when the child is
// given descriptors of its own from 4 up (fork_options::extra_fds).
struct error_report {
  int pipe = -1;

  // One write of the two numbers: the parent reads them together or not at all.
  [[noreturn]] void fail(int err, forkipc::detail::restriction_step step = forkipc::detail::restriction_step::none) const {
    const std::int32_t report[2] = {err, static_cast<std::int32_t>(step)};
    while (::write(pipe, report, sizeof report) < 0 && errno == EINTR) {
    }
    ::_exit(127);
  }
};

bool parse(std::string_view text, long long& value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

long long number(std::string_view text, const error_report& errors) {
  long long value = 0;
  if (!parse(text, value) || value < 0) errors.fail(EINVAL);
  return value;
}

// Closes every descriptor from `from` up but the error pipe. /dev/fd lists them (Linux, macOS,
// FreeBSD with fdescfs); a listing without the descriptor reading it is not the whole list
// (FreeBSD's /dev/fd without fdescfs shows 0 to 2 only), and then every number below the limit
// on open files is closed, one by one.
void close_from(int from, int error_pipe) {
  if (DIR* dir = ::opendir("/dev/fd")) {
    const int own = ::dirfd(dir);
    bool whole = false;
    while (const dirent* entry = ::readdir(dir)) {
      long long fd;
      if (!parse(entry->d_name, fd)) continue;
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

// Applies a setting that acts at once; those of child_restrictions are gathered in r, to be
// applied after the others, in restrict_this_process's order.
void apply(std::string_view setting, forkipc::detail::child_restrictions& r, const error_report& errors) {
  const auto equals = setting.find('=');
  const std::string_view name = setting.substr(0, equals);
  const std::string_view value = equals == std::string_view::npos ? std::string_view() : setting.substr(equals + 1);
  if (name == "close_from") {
    const long long from = number(value, errors);
    if (from <= errors.pipe) errors.fail(EINVAL);
    close_from(static_cast<int>(from), errors.pipe);
  } else if (name == "cd") {
    if (::chdir(setting.data() + equals + 1) != 0) errors.fail(errno);  // the argument's own, terminated
  } else if (name == "as") {
    r.memory_bytes = static_cast<std::uint64_t>(number(value, errors));
  } else if (name == "cpu") {
    r.cpu_seconds = static_cast<std::uint64_t>(number(value, errors));
  } else if (name == "nofile") {
    r.open_files = static_cast<std::uint64_t>(number(value, errors));
  } else if (name == "nnp") {
    r.no_new_privileges = true;
  } else if (name == "parent") {
    r.parent = static_cast<pid_t>(number(value, errors));
    if (r.parent == 0) errors.fail(EINVAL);
  } else if (name == "setsid") {
    r.new_session = true;
  } else if (name == "gid") {
    r.change_group = true;
    r.group = static_cast<gid_t>(number(value, errors));
  } else if (name == "uid") {
    r.change_user = true;
    r.user = static_cast<uid_t>(number(value, errors));
  } else {
    errors.fail(EINVAL);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // error_fd=FD first, or 4 without it (a child without extra descriptors).
  error_report errors{4};
  int next = 1;
  long long pipe = 0;
  if (const std::string_view first = argc > 1 ? argv[1] : ""; first.starts_with("error_fd=")) {
    if (!parse(first.substr(9), pipe) || pipe <= 3) ::_exit(127);  // nowhere to say so
    errors.pipe = static_cast<int>(pipe);
    next = 2;
  }
  ::fcntl(errors.pipe, F_SETFD, FD_CLOEXEC);  // the program must not inherit it
  forkipc::detail::child_restrictions restrictions;
  for (; next < argc && std::string_view(argv[next]) != "--"; ++next) apply(argv[next], restrictions, errors);
  if (argc - next < 3) errors.fail(EINVAL);  // "--", the program, its argv[0]
  if (const auto failed = forkipc::detail::restrict_this_process(restrictions)) errors.fail(failed.error, failed.step);
  ::execv(argv[next + 1], argv + next + 2);  // the environment is this process's: the one fork() prepared
  errors.fail(errno);
}
