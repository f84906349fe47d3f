#include "socket_io.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>

namespace forkipc::detail {

int send_queued(int fd, write_queue& queue, std::vector<write_queue::callback>& completed) {
  std::array<iovec, 64> iov;
  while (!queue.empty()) {
    msghdr message{};
    message.msg_iov = iov.data();
    message.msg_iovlen = queue.gather(iov);
    const ssize_t written = ::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (written >= 0) {
      queue.consume(static_cast<std::size_t>(written), completed);
    } else if (errno != EINTR) {
      return errno == EWOULDBLOCK ? EAGAIN : errno;
    }
  }
  return 0;
}

long receive_some(int fd, json_line_decoder& decoder, std::size_t read_size) {
  const auto space = decoder.prepare(read_size).first(read_size);
  for (;;) {
    const ssize_t got = ::recv(fd, space.data(), space.size(), MSG_DONTWAIT);
    if (got >= 0) {
      decoder.commit(static_cast<std::size_t>(got));
      return got;
    }
    if (errno != EINTR) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

}  // namespace forkipc::detail
