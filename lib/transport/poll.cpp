#include "transport/poll.hpp"

#include <poll.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <span>
#include <system_error>

namespace forkipc::detail {
namespace {

// The index of the first of polled that is ready, nullopt once until passed. poll(2) skips a
// negative descriptor.
std::optional<int> wait_for(std::span<pollfd> polled, const deadline& until) {
  for (;;) {
    const int ready = ::poll(polled.data(), polled.size(), until.poll_timeout());
    if (ready > 0) {
      for (std::size_t i = 0; i < polled.size(); ++i)
        if (polled[i].revents != 0) return static_cast<int>(i);
    }
    if (ready == 0) {
      if (until.passed()) return std::nullopt;
      continue;  // poll's millisecond rounding woke us a little early
    }
    if (ready < 0 && errno != EINTR) throw std::system_error(errno, std::system_category(), "poll");
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

bool wait_readable(int fd, const deadline& until) {
  pollfd polled{fd, POLLIN, 0};
  return wait_for(std::span(&polled, 1), until).has_value();
}

bool wait_writable(int fd, const deadline& until) {
  pollfd polled{fd, POLLOUT, 0};
  return wait_for(std::span(&polled, 1), until).has_value();
}

std::optional<int> wait_readable_either(int first, int second, const deadline& until) {
  pollfd polled[] = {{first, POLLIN, 0}, {second, POLLIN, 0}};
  return wait_for(polled, until);
}

}  // namespace forkipc::detail
