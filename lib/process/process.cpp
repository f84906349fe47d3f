#include "process/process.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>

#include "process/exit_watch.hpp"
#include "process/platform.hpp"

namespace forkipc::detail {

process::process(pid_t pid, unique_fd exit_descriptor) noexcept
    : pid_(pid), exit_descriptor_(std::move(exit_descriptor)) {}

process::process(process&& other) noexcept
    : pid_(other.pid_), exit_descriptor_(std::move(other.exit_descriptor_)), status_(other.status_) {
  other.status_ = exit_status{};  // the moved-from object has nothing left to reap
}

process::~process() {
  if (reaped()) return;
  std::error_code ignored;
  send_signal(SIGKILL, ignored);
  wait();
}

bool process::send_signal(int signal, std::error_code& ec) noexcept {
  std::lock_guard lock(reaping_);
  if (status_) {
    ec = std::make_error_code(std::errc::no_such_process);
    return false;
  }
  if (const int failed = signal_child(pid_, exit_descriptor(), signal)) {
    ec.assign(failed, std::system_category());
    return false;
  }
  ec.clear();
  return true;
}

std::optional<exit_status> process::try_reap() {
  std::lock_guard lock(reaping_);
  if (status_) return status_;
  int status = 0;
  pid_t result;
  while ((result = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (result < 0) {
    // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN, or a waitpid(-1) elsewhere in
    // the program). The child has ended, but how is lost: neither code nor signal is known.
    if (errno == ECHILD) status_ = exit_status{};
    return status_;
  }
  if (result == 0) return std::nullopt;  // still running
  if (WIFEXITED(status)) {
    status_ = exit_status{WEXITSTATUS(status), std::nullopt};
  } else {
    status_ = exit_status{std::nullopt, WTERMSIG(status)};
  }
  return status_;
}

std::optional<exit_status> process::wait(const deadline& until) {
  const auto ended = [this] { return try_reap().has_value(); };
  const bool done = exit_descriptor_ ? wait_for_descriptor(exit_descriptor_.get(), ended, until)
                                     : wait_for_sigchld(pid_, ended, until);
  return done ? status_ : std::nullopt;
}

}  // namespace forkipc::detail
