// echo_sync under a storm of signals: SIGALRM every 200 microseconds, with a handler installed
// without SA_RESTART, so that the blocking calls of sync::parent keep failing with EINTR.
// Answers every message with itself, and "interrupts?" with the number of signals so far, until
// the parent disconnects; then exits 0.
#include <forkipc/forkipc.hpp>

#include <signal.h>
#include <sys/time.h>

#include <atomic>

namespace {
std::atomic<long> interrupts{0};
}

int main() {
  struct sigaction action{};
  action.sa_handler = [](int) { interrupts.fetch_add(1, std::memory_order_relaxed); };
  ::sigaction(SIGALRM, &action, nullptr);  // no SA_RESTART
  const itimerval every{{0, 200}, {0, 200}};
  ::setitimer(ITIMER_REAL, &every, nullptr);
  forkipc::sync::parent parent;
  try {
    while (auto message = parent.receive()) {
      if (*message == "interrupts?") {
        parent.send(interrupts.load());
      } else {
        parent.send(*message);
      }
    }
  } catch (const forkipc::error& e) {
    if (e.code() != forkipc::errc::channel_closed) throw;
  }
  return 0;
}
