// The posix backend of process/platform.hpp: kill(pid) and SIGCHLD; POSIX's posix_spawn, and
// forkipc's helper for the rest, on every child.
//
// Why not macOS's POSIX_SPAWN_CLOEXEC_DEFAULT, which would spare the helper the closing: it
// also closes the stdin, stdout and stderr a child should inherit, unless each is named with
// posix_spawn_file_actions_addinherit_np, Apple's own; the helper's sweep is the same everywhere.
#include "process/platform.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace forkipc::detail {

const char* const platform_name = "posix";

unique_fd open_exit_descriptor(pid_t, std::error_code& ec) noexcept {
  ec.clear();
  return {};  // SIGCHLD says when it ended
}

int signal_child(pid_t pid, int, int signal) noexcept { return ::kill(pid, signal) == 0 ? 0 : errno; }

const spawn_abilities spawn_can{false, false, false, false, false, false};

void spawn_close_from(posix_spawn_file_actions_t&, int) {}

void spawn_change_directory(posix_spawn_file_actions_t&, const char*) {}

void spawn_new_session(posix_spawnattr_t&) {}

const char* trusted_getenv(const char* name) noexcept {
  if (::getuid() != ::geteuid() || ::getgid() != ::getegid()) return nullptr;
  return std::getenv(name);
}

}  // namespace forkipc::detail
