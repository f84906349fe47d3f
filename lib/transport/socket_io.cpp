#include "transport/socket_io.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "transport/platform.hpp"

namespace forkipc::detail {
namespace {

// Room for the descriptors of one read; more in one read than this are closed by the kernel
// (MSG_CTRUNC), as no message of forkipc or Node passes more than a few.
constexpr std::size_t max_fds_per_read = 16;

}  // namespace

ssize_t send_with_fds(int fd, std::span<const iovec> iov, std::span<const int> fds) {
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(iov.data());
  message.msg_iovlen = iov.size();
  alignas(cmsghdr) char control[CMSG_SPACE(max_fds_per_message * sizeof(int))];
  if (fds.size() > max_fds_per_message) return -EINVAL;  // as the kernel would say
  if (!fds.empty()) {
    const std::size_t bytes = fds.size() * sizeof(int);
    std::memset(control, 0, CMSG_SPACE(bytes));
    message.msg_control = control;
    message.msg_controllen = CMSG_SPACE(bytes);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(bytes);
    std::memcpy(CMSG_DATA(header), fds.data(), bytes);
  }
  for (;;) {
    const ssize_t written = ::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (written >= 0) return written;
    if (errno != EINTR) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

ssize_t receive_with_fds(int fd, std::span<char> into, received_fds& fds, std::size_t max_fds) {
  alignas(cmsghdr) char control[CMSG_SPACE(max_fds_per_message * sizeof(int))];
  iovec iov{into.data(), into.size()};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = CMSG_SPACE(std::min(max_fds, max_fds_per_message) * sizeof(int));
  const ssize_t got = receive_message(fd, message, MSG_DONTWAIT);
  if (got < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int passed;
      std::memcpy(&passed, CMSG_DATA(header) + i * sizeof(int), sizeof passed);
      fds.passed.emplace_back(passed);
    }
  }
  if ((message.msg_flags & MSG_CTRUNC) != 0) fds.truncated = true;
  return got;
}

int send_queued(int fd, write_queue& queue, std::vector<write_queue::callback>& completed) {
  std::array<iovec, 64> iov;
  while (!queue.empty()) {
    const std::size_t pieces = queue.gather(iov);
    const ssize_t written = send_with_fds(fd, std::span<const iovec>(iov.data(), pieces), queue.fds_at_front());
    if (written < 0) return static_cast<int>(-written);
    queue.consume(static_cast<std::size_t>(written), completed);
  }
  return 0;
}

long receive_some(int fd, receive_buffer& buffer, received_descriptors& fds, std::size_t read_size) {
  const auto space = buffer.prepare(read_size).first(read_size);
  received_fds received;
  const ssize_t got = receive_with_fds(fd, space, received, max_fds_per_read);
  if (got < 0) return got;
  const stream_span read{buffer.end_position(), buffer.end_position() + static_cast<std::uint64_t>(got)};
  for (unique_fd& passed : received.passed) fds.add(read, std::move(passed));
  if (received.truncated) fds.add_truncated();
  buffer.commit(static_cast<std::size_t>(got));
  return got;
}

}  // namespace forkipc::detail
