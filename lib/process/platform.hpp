// platform: what starting, watching and signalling a child needs of the system beyond POSIX,
// behind one interface with two implementations, chosen by Meson's `platform` option:
// process/linux/ (pidfds, posix_spawn's closefrom and chdir file actions, PR_SET_PDEATHSIG) and
// process/posix/ (kill, SIGCHLD, and forkipc's helper program for what posix_spawn cannot do).
// Everything else in process/ is written once, on top of this.
#pragma once

#include <spawn.h>
#include <sys/types.h>

#include <system_error>

#include "unique_fd.hpp"

namespace forkipc::detail {

/// This build's backend: "linux" or "posix".
extern const char* const platform_name;

// ---- watching and signalling a child ----

/// A descriptor that becomes readable once child pid has ended, close-on-exec: a pidfd (Linux
/// 5.3 and later). Empty where the system has none: always on the posix backend; on the linux
/// backend when the kernel answers ENOSYS (before 5.3), and ec is clear then. Then SIGCHLD says
/// when the child ended (process/exit_watch.hpp). Empty with ec set on any other failure.
unique_fd open_exit_descriptor(pid_t pid, std::error_code& ec) noexcept;

/// Sends signal to a child that has not been reaped yet: through its exit descriptor when it
/// has one, else with kill(pid), which cannot reach another process while the child is unreaped
/// (its pid is not free for reuse until then; process.hpp keeps the two from crossing). 0, or
/// the errno.
int signal_child(pid_t pid, int exit_descriptor, int signal) noexcept;

// ---- starting a child ----

/// What posix_spawn can do in the child before exec on this system, beyond POSIX's file
/// actions. What it cannot, forkipc's helper program does in its place before it execs the
/// child (process/exec_helper.cpp; one exec more).
struct spawn_abilities {
  /// Closes every descriptor from a number up (glibc 2.34: addclosefrom_np).
  bool close_from;
  /// Starts the child in another directory (glibc 2.29: addchdir_np).
  bool change_directory;
  /// fork_options::kill_on_parent_exit can be had at all (Linux: PR_SET_PDEATHSIG, which the
  /// helper sets). Without it, fork() refuses the option with std::errc::not_supported.
  bool parent_death_signal;
  /// fork_options::no_new_privileges can be had (Linux: PR_SET_NO_NEW_PRIVS, which the helper
  /// sets). Without it, fork() refuses the option with std::errc::not_supported.
  bool no_new_privileges;
  /// A zygote can fork children that are its owner's (fork_beside_parent).
  bool fork_beside_parent;
  /// Starts the child in a new session (fork_options::detached; glibc 2.26: POSIX_SPAWN_SETSID,
  /// POSIX only since 2024).
  bool new_session;
};
extern const spawn_abilities spawn_can;

/// Adds "close every descriptor from fd up" to actions (only where spawn_can.close_from).
void spawn_close_from(posix_spawn_file_actions_t& actions, int fd);
/// Makes the child a session leader (only where spawn_can.new_session).
void spawn_new_session(posix_spawnattr_t& attributes);
/// Adds "start in dir" to actions (only where spawn_can.change_directory).
void spawn_change_directory(posix_spawn_file_actions_t& actions, const char* dir);

/// getenv, but nullptr in a program started set-user-ID or set-group-ID (or, on Linux, with
/// file capabilities): its caller chose its environment, and must not choose what it runs.
const char* trusted_getenv(const char* name) noexcept;

// ---- in the helper program, which links only this of the seam (process/<backend>/child_setup.cpp) ----

/// Asks for signal when this process's parent ends (Linux: PR_SET_PDEATHSIG; it survives
/// execve). 0, or the errno (ENOSYS where there is no such thing).
int request_parent_death_signal(int signal) noexcept;

/// Gives up, for this process and what it execs, every gain of privileges at exec (set-user-ID
/// bits, file capabilities; Linux: PR_SET_NO_NEW_PRIVS). 0, or the errno (ENOSYS where there is
/// no such thing).
int forbid_new_privileges() noexcept;

// ---- in a zygote ----

/// Forks the calling (single-threaded) process into a child of its own parent, not of itself,
/// so that the parent reaps, watches and signals it as a child it spawned (Linux: clone3 with
/// CLONE_PARENT). As fork(): the child's pid, 0 in the child, -1 with errno (ENOSYS where there
/// is no such thing).
pid_t fork_beside_parent() noexcept;

}  // namespace forkipc::detail
