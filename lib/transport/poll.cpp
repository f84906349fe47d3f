#include "transport/poll.hpp"

#include <poll.h>

#include <cerrno>
#include <climits>
#include <system_error>

namespace forkipc::detail {
namespace {

bool wait_for(int fd, short events, const deadline& until) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, until.poll_timeout());
    if (ready > 0) return true;
    if (ready == 0) {
      if (until.passed()) return false;
      continue;  // poll's millisecond rounding woke us a little early
    }
    if (errno != EINTR) throw std::system_error(errno, std::system_category(), "poll");
  }
}

}  // namespace

deadline::deadline(std::optional<std::chrono::milliseconds> timeout) noexcept {
  // Anything over a year is "for ever": it also keeps milliseconds::max() from overflowing.
  if (timeout && *timeout < std::chrono::hours(24 * 366)) at_ = clock::now() + *timeout;
}

int deadline::poll_timeout() const noexcept {
  if (!at_) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(*at_ - clock::now()).count();
  if (left <= 0) return 0;
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

deadline deadline::earliest(const deadline& a, const deadline& b) noexcept {
  if (!a.at_) return b;
  if (!b.at_) return a;
  return *a.at_ <= *b.at_ ? a : b;
}

bool wait_readable(int fd, const deadline& until) { return wait_for(fd, POLLIN, until); }

bool wait_writable(int fd, const deadline& until) { return wait_for(fd, POLLOUT, until); }

}  // namespace forkipc::detail
