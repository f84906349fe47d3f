// Blocking waits for one descriptor, bounded by a deadline and immune to EINTR.
#pragma once

#include <chrono>
#include <optional>

namespace forkipc::detail {

/// A point in time to give up at, or none (wait for ever).
class deadline {
 public:
  using clock = std::chrono::steady_clock;

  /// nullopt, or a timeout too long to represent, means for ever.
  explicit deadline(std::optional<std::chrono::milliseconds> timeout = {}) noexcept;

  bool forever() const noexcept { return !at_; }
  bool passed() const noexcept { return at_ && clock::now() >= *at_; }
  /// Milliseconds left for poll(2): -1 for ever, 0 once passed.
  int poll_timeout() const noexcept;
  /// When it passes; nullopt for ever.
  std::optional<clock::time_point> time_point() const noexcept { return at_; }
  /// The earlier of two deadlines.
  static deadline earliest(const deadline& a, const deadline& b) noexcept;

 private:
  std::optional<clock::time_point> at_;
};

/// Waits until fd is readable (or at its end, or in error). false when the deadline passed.
/// Throws std::system_error if poll(2) fails for another reason than EINTR.
bool wait_readable(int fd, const deadline& until);
/// Likewise until fd is writable.
bool wait_writable(int fd, const deadline& until);
/// Waits until first or second is readable (or at its end, or in error): 0 for first (when
/// both are), 1 for second; nullopt when the deadline passed. A negative descriptor is not
/// waited for.
std::optional<int> wait_readable_either(int first, int second, const deadline& until);

}  // namespace forkipc::detail
