// Stands in for a zygote program built with a forkipc from before the zygote protocol carried a
// version (version 0: the byte after a reply's kind was unused). It answers each request for a
// spare as that forkipc did: it forks a spare beside itself (a child of its owner, with
// forkipc's own internals), which waits on its link until the link ends, and sends the owner the
// spare's pid with the owner's end of the link attached. Linux backend only.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <span>

#include "process/platform.hpp"     // fork_beside_parent
#include "transport/socket_io.hpp"  // send_with_fds

int main() {
  constexpr int channel_fd = 3;
  ::fcntl(channel_fd, F_SETFL, ::fcntl(channel_fd, F_GETFL) & ~O_NONBLOCK);
  char asked = 0;
  while (::read(channel_fd, &asked, 1) == 1) {
    int link[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, link) != 0) return 1;
    const pid_t pid = forkipc::detail::fork_beside_parent();
    if (pid < 0) return 1;
    if (pid == 0) {  // the spare
      ::close(link[0]);
      char byte = 0;
      while (::read(link[1], &byte, 1) > 0) {
      }
      ::_exit(0);
    }
    ::close(link[1]);
    char reply[12] = {'S'};  // kind, 3 unused, the pid, no text
    const std::int32_t value = pid;
    std::memcpy(reply + 4, &value, 4);
    const iovec iov{reply, sizeof reply};
    if (forkipc::detail::send_with_fds(channel_fd, std::span<const iovec>(&iov, 1), std::span<const int>(&link[0], 1)) !=
        static_cast<ssize_t>(sizeof reply))
      return 1;
    ::close(link[0]);
  }
  return 0;
}
