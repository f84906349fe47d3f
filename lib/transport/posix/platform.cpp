// The posix backend of transport/platform.hpp: close-on-exec with fcntl, right after.
#include "transport/platform.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace forkipc::detail {
namespace {

void close_on_exec(int fd) noexcept { ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC); }

}  // namespace

int make_socket_pair(unique_fd& first, unique_fd& second) noexcept {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return errno;
  first.reset(fds[0]);
  second.reset(fds[1]);
  close_on_exec(fds[0]);
  close_on_exec(fds[1]);
  return 0;
}

int make_pipe(unique_fd& read_end, unique_fd& write_end) noexcept {
  int fds[2];
  if (::pipe(fds) != 0) return errno;
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  close_on_exec(fds[0]);
  close_on_exec(fds[1]);
  return 0;
}

ssize_t receive_message(int socket, msghdr& message, int flags) noexcept {
  ssize_t got;
  while ((got = ::recvmsg(socket, &message, flags)) < 0 && errno == EINTR) {
  }
  if (got < 0) return got;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
      close_on_exec(fd);
    }
  }
  return got;
}

}  // namespace forkipc::detail
