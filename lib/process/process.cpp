#include "process/process.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cerrno>


namespace forkipc::detail {

unique_fd open_pidfd(pid_t pid, std::error_code& ec) noexcept {
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);  // pidfds are always close-on-exec
  if (fd < 0) {
    ec.assign(errno, std::system_category());
    return {};
  }
  ec.clear();
  return unique_fd(static_cast<int>(fd));
}

process::process(pid_t pid, unique_fd pidfd) noexcept : pid_(pid), pidfd_(std::move(pidfd)) {}

process::process(process&& other) noexcept
    : pid_(other.pid_), pidfd_(std::move(other.pidfd_)), status_(other.status_) {
  other.status_ = exit_status{};  // the moved-from object has nothing left to reap
}

process::~process() {
  if (reaped() || !pidfd_) return;
  std::error_code ignored;
  send_signal(SIGKILL, ignored);
  wait();
}

bool process::send_signal(int signal, std::error_code& ec) noexcept {
  if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), signal, nullptr, 0) == 0) {
    ec.clear();
    return true;
  }
  ec.assign(errno, std::system_category());
  return false;
}

std::optional<exit_status> process::try_reap() {
  if (status_) return status_;
  siginfo_t info{};
  int result;
  do {
    result = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info,
                      WEXITED | WNOHANG);
  } while (result < 0 && errno == EINTR);
  if (result < 0) {
    // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN, or a waitpid(-1) elsewhere in
    // the program). The child has ended, but how is lost: neither code nor signal is known.
    if (errno == ECHILD) status_ = exit_status{};
    return status_;
  }
  if (info.si_pid == 0) return std::nullopt;  // still running
  if (info.si_code == CLD_EXITED) {
    status_ = exit_status{info.si_status, std::nullopt};
  } else {
    status_ = exit_status{std::nullopt, info.si_status};
  }
  return status_;
}

std::optional<exit_status> process::wait(const deadline& until) {
  for (;;) {
    if (auto status = try_reap()) return status;
    if (!wait_readable(pidfd_.get(), until)) return std::nullopt;
  }
}

}  // namespace forkipc::detail
