#include "process/exit_watch.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>

namespace forkipc::detail {

exit_watch::exit_watch(boost::asio::io_context& io, const process& child) {
  if (child.exit_descriptor() >= 0) {
    descriptor_.emplace(io, child.exit_descriptor());
  } else {
    sigchld_.emplace(io, SIGCHLD);
  }
}

exit_watch::~exit_watch() {
  if (descriptor_) descriptor_->release();  // the process owns it
}

void exit_watch::async_wait(std::function<void(boost::system::error_code)> handler) {
  if (descriptor_) {
    descriptor_->async_wait(boost::asio::posix::descriptor_base::wait_read, std::move(handler));
  } else {
    sigchld_->async_wait([handler = std::move(handler)](boost::system::error_code ec, int) { handler(ec); });
  }
}

bool wait_for_descriptor(int descriptor, const std::function<bool()>& ended, const deadline& until) {
  for (;;) {
    if (ended()) return true;
    if (!wait_readable(descriptor, until)) return ended();
  }
}

bool wait_for_sigchld(pid_t pid, const std::function<bool()>& ended, const deadline& until) {
  if (until.forever()) {
    for (;;) {
      if (ended()) return true;
      siginfo_t info{};
      // EINTR (a signal's handler ran) and ECHILD (someone else reaped it): ended() tells. Any
      // other failure is a waitid that cannot wait here: SIGCHLD, below, does then.
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 && errno != EINTR &&
          errno != ECHILD)
        break;
    }
  }
  boost::asio::io_context io(1);
  boost::asio::signal_set sigchld(io, SIGCHLD);  // from here on, no SIGCHLD is lost
  for (;;) {
    if (ended()) return true;
    bool signalled = false;
    sigchld.async_wait([&](boost::system::error_code ec, int) { signalled = !ec; });
    io.restart();
    while (!signalled && (until.forever() ? io.run_one() : io.run_one_until(*until.time_point())) > 0) {
    }
    if (!signalled) return ended();  // until passed
  }
}

}  // namespace forkipc::detail
