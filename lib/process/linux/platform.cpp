// The linux backend of process/platform.hpp: pidfds, glibc's POSIX_SPAWN_SETSID, and
// posix_spawn's own closefrom and chdir where glibc has them (Meson checks: FORKIPC_HAVE_ADDCLOSEFROM_NP, FORKIPC_HAVE_ADDCHDIR_NP).
#include "process/platform.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace forkipc::detail {

const char* const platform_name = "linux";

unique_fd open_exit_descriptor(pid_t pid, std::error_code& ec) noexcept {
  ec.clear();
  // glibc 2.36 has no C++-usable declaration of pidfd_open. pidfds are always close-on-exec.
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) return unique_fd(static_cast<int>(fd));
  // ENOSYS: a kernel before 5.3 (RHEL 8, Amazon Linux 2), or a seccomp policy that hides the
  // call: SIGCHLD serves instead.
  if (errno != ENOSYS) ec.assign(errno, std::system_category());
  return {};
}

int signal_child(pid_t pid, int exit_descriptor, int signal) noexcept {
  const long result = exit_descriptor >= 0 ? ::syscall(SYS_pidfd_send_signal, exit_descriptor, signal, nullptr, 0)
                                           : ::kill(pid, signal);
  return result == 0 ? 0 : errno;
}

#if defined(FORKIPC_HAVE_ADDCLOSEFROM_NP)
constexpr bool has_close_from = true;
#else
constexpr bool has_close_from = false;  // glibc before 2.34: the helper closes them
#endif
#if defined(FORKIPC_HAVE_ADDCHDIR_NP)
constexpr bool has_change_directory = true;
#else
constexpr bool has_change_directory = false;  // glibc before 2.29: the helper changes it
#endif

const spawn_abilities spawn_can{has_close_from, has_change_directory, true, true, true, true};

void spawn_close_from([[maybe_unused]] posix_spawn_file_actions_t& actions, [[maybe_unused]] int fd) {
#if defined(FORKIPC_HAVE_ADDCLOSEFROM_NP)
  if (const int result = ::posix_spawn_file_actions_addclosefrom_np(&actions, fd); result != 0)
    throw std::system_error(result, std::system_category(), "posix_spawn_file_actions_addclosefrom_np");
#endif
}

void spawn_new_session(posix_spawnattr_t& attributes) {
  short flags = 0;
  ::posix_spawnattr_getflags(&attributes, &flags);
  if (const int result = ::posix_spawnattr_setflags(&attributes, static_cast<short>(flags | POSIX_SPAWN_SETSID)); result != 0)
    throw std::system_error(result, std::system_category(), "posix_spawnattr_setflags(POSIX_SPAWN_SETSID)");
}

void spawn_change_directory([[maybe_unused]] posix_spawn_file_actions_t& actions, [[maybe_unused]] const char* dir) {
#if defined(FORKIPC_HAVE_ADDCHDIR_NP)
  if (const int result = ::posix_spawn_file_actions_addchdir_np(&actions, dir); result != 0)
    throw std::system_error(result, std::system_category(), "posix_spawn_file_actions_addchdir_np");
#endif
}

const char* trusted_getenv(const char* name) noexcept { return ::secure_getenv(name); }

}  // namespace forkipc::detail
