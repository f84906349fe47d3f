// The linux backend of transport/platform.hpp: close-on-exec as the descriptors are made.
#include "transport/platform.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace forkipc::detail {

int make_socket_pair(unique_fd& first, unique_fd& second) noexcept {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return errno;
  first.reset(fds[0]);
  second.reset(fds[1]);
  return 0;
}

int make_pipe(unique_fd& read_end, unique_fd& write_end) noexcept {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno;
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return 0;
}

ssize_t receive_message(int socket, msghdr& message, int flags) noexcept {
  ssize_t got;
  while ((got = ::recvmsg(socket, &message, flags | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  return got;
}

}  // namespace forkipc::detail
