// exit_watch: learning that a child has ended, on an event loop or blocking, with or without a
// descriptor that says so.
//
// Two ways, one chosen per child by whether it has an exit descriptor (process/platform.hpp):
// - a pidfd (the linux backend, Linux 5.3+): readable once the child ended; the loop watches it,
//   a blocking wait polls it;
// - SIGCHLD (the posix backend, and the linux one on older kernels): through a
//   boost::asio::signal_set, on the child's io_context or, for a blocking wait, on one of the
//   wait's own. Asio's handler only writes to a pipe that every io_context with a signal_set
//   watches, and each set of the process hears every SIGCHLD: each watch then asks waitpid
//   (WNOHANG) about its own child only, never about a pid it does not own. A signal that came
//   while no wait was pending is kept by the set, and every wait first asks waitpid whether the
//   child ended already, so no exit is missed between the two.
//
// A wake-up is a hint, not a verdict: the owner reaps (process::try_reap) and watches again if
// the child still runs. No thread, no sleep: "exit" and then "close", exactly once, stay the
// io_context's to order. docs/gotchas.md says how this shares SIGCHLD with a program's own.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>

#include "process/process.hpp"
#include "transport/poll.hpp"

namespace forkipc::detail {

/// Watches child on io: async_wait's handler runs on io's thread once the child may have ended
/// (or with operation_aborted when the watch goes away). The watch must be made before the
/// owner first asks try_reap(), so that a SIGCHLD in between is kept; it does not own the
/// child's exit descriptor.
class exit_watch {
 public:
  exit_watch(boost::asio::io_context& io, const process& child);
  ~exit_watch();
  exit_watch(const exit_watch&) = delete;
  exit_watch& operator=(const exit_watch&) = delete;

  void async_wait(std::function<void(boost::system::error_code)> handler);

 private:
  std::optional<boost::asio::posix::stream_descriptor> descriptor_;  // the pidfd
  std::optional<boost::asio::signal_set> sigchld_;                   // or SIGCHLD
};

/// Blocks until ended() holds, asking it first and then each time descriptor (a pidfd) is
/// readable; false once until passed with ended() still false.
bool wait_for_descriptor(int descriptor, const std::function<bool()>& ended, const deadline& until);

/// Blocks until ended() holds, asking it first and then after each SIGCHLD this process gets;
/// false once until passed with ended() still false. Until a deadline: a signal_set and a timer
/// on an io_context of its own, so no signal is polled for and none is missed. For ever:
/// waitid(pid, WEXITED | WNOWAIT), which needs no signal at all (it leaves reaping to ended()),
/// so that a program that took SIGCHLD for itself cannot make a destructor hang.
bool wait_for_sigchld(pid_t pid, const std::function<bool()>& ended, const deadline& until);

}  // namespace forkipc::detail
