// forkipc::handle: a file descriptor passed over a channel.
#pragma once

#include <unistd.h>

#include <utility>

namespace forkipc {

/// Sole owner of one file descriptor: what send(message, handle) passes to the peer, and what a
/// "message" listener taking `(const forkipc::json&, forkipc::handle)` receives with a message.
/// Move-only; closes its descriptor when destroyed. An empty handle holds -1.
///
/// A handle the channel received is close-on-exec. When no listener takes it, it is closed
/// after the listeners ran: a passed descriptor never leaks.
class handle {
 public:
  /// An empty handle.
  handle() noexcept = default;
  /// Takes ownership of fd.
  explicit handle(int fd) noexcept : fd_(fd) {}
  /// Takes other's descriptor; other is empty afterwards.
  handle(handle&& other) noexcept : fd_(other.release()) {}
  /// Closes the descriptor held, if any, and takes other's; other is empty afterwards.
  handle& operator=(handle&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  handle(const handle&) = delete;
  handle& operator=(const handle&) = delete;
  /// Closes the descriptor held, if any.
  ~handle() { reset(); }

  /// The descriptor, still owned by this handle; -1 when empty.
  int fd() const noexcept { return fd_; }
  /// Gives the descriptor up: the caller closes it. The handle is empty afterwards.
  int release() noexcept { return std::exchange(fd_, -1); }
  /// true when the handle holds a descriptor.
  explicit operator bool() const noexcept { return fd_ >= 0; }

  /// Closes the descriptor held, if any, and holds fd instead.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);  // not retried on EINTR: Linux releases the descriptor anyway
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace forkipc
