#include "transport/socket_io.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace forkipc::detail {
namespace {

// Room for the descriptors of one read; more in one read than this are closed by the kernel
// (MSG_CTRUNC), as no message of forkipc or Node passes more than a few.
constexpr std::size_t max_fds_per_read = 16;

}  // namespace

int send_queued(int fd, write_queue& queue, std::vector<write_queue::callback>& completed) {
  std::array<iovec, 64> iov;
  std::vector<char> control;
  while (!queue.empty()) {
    msghdr message{};
    message.msg_iov = iov.data();
    message.msg_iovlen = queue.gather(iov);
    if (const std::vector<int> fds = queue.fds_at_front(); !fds.empty()) {
      const std::size_t bytes = fds.size() * sizeof(int);
      control.assign(CMSG_SPACE(bytes), 0);
      message.msg_control = control.data();
      message.msg_controllen = control.size();
      cmsghdr* header = CMSG_FIRSTHDR(&message);
      header->cmsg_level = SOL_SOCKET;
      header->cmsg_type = SCM_RIGHTS;
      header->cmsg_len = CMSG_LEN(bytes);
      std::memcpy(CMSG_DATA(header), fds.data(), bytes);
    }
    const ssize_t written = ::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (written >= 0) {
      queue.consume(static_cast<std::size_t>(written), completed);
    } else if (errno != EINTR) {
      return errno == EWOULDBLOCK ? EAGAIN : errno;
    }
  }
  return 0;
}

long receive_some(int fd, receive_buffer& buffer, received_descriptors& fds, std::size_t read_size) {
  const auto space = buffer.prepare(read_size).first(read_size);
  alignas(cmsghdr) char control[CMSG_SPACE(max_fds_per_read * sizeof(int))];
  for (;;) {
    iovec iov{space.data(), space.size()};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t got = ::recvmsg(fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
    const stream_span read{buffer.end_position(), buffer.end_position() + static_cast<std::uint64_t>(got)};
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int passed;
        std::memcpy(&passed, CMSG_DATA(header) + i * sizeof(int), sizeof passed);
        fds.add(read, unique_fd(passed));
      }
    }
    if ((message.msg_flags & MSG_CTRUNC) != 0) fds.add_truncated();
    buffer.commit(static_cast<std::size_t>(got));
    return got;
  }
}

}  // namespace forkipc::detail
