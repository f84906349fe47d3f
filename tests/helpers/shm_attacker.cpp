// A hostile child on the shared-memory transport that abuses the socket beside the rings: its
// position records ('R', a stream position, descriptors attached), which a forkipc peer sends
// only ahead of a message that passes descriptors. It maps the rings the parent passed (with
// forkipc's internals: no public API writes a record of its own), publishes one message,
// {"started": true}, then runs the attack named by argv[1] and waits for the parent to close the
// channel:
//   records_far    300 records, each with a descriptor, for positions no message reaches
//   records_held   one record, with 3 descriptors, for the position right after the message: a
//                  message that never comes. Then it closes its end of the channel.
//   records_flood  records without descriptors, as fast as the socket takes them, for 5 s
// argv[2] is the serialization: json or binary.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include <forkipc/error.hpp>
#include <forkipc/json.hpp>

#include "codec/message_codec.hpp"
#include "transport/byte_stream.hpp"
#include "transport/socket_io.hpp"

namespace {

constexpr int channel_fd = 3;

std::string record(std::uint64_t position) {
  std::string r(9, 'R');
  for (std::size_t i = 0; i < 8; ++i) r[1 + i] = static_cast<char>(position >> (8 * i));
  return r;
}

// 0, or errno; waits while the socket is full (the parent reads it).
int send_record(std::uint64_t position, const std::vector<int>& fds) {
  const std::string bytes = record(position);
  const iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  for (;;) {
    const ssize_t sent = forkipc::detail::send_with_fds(channel_fd, std::span<const iovec>(&iov, 1), fds);
    if (sent == -EAGAIN) {
      pollfd p{channel_fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    return sent < 0 ? static_cast<int>(-sent) : 0;
  }
}

// Until the parent closes the channel.
void wait_for_the_end() {
  char byte;
  for (;;) {
    pollfd p{channel_fd, POLLIN, 0};
    ::poll(&p, 1, -1);
    if (::recv(channel_fd, &byte, 1, MSG_DONTWAIT) == 0) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: shm_attacker records_far|records_held|records_flood json|binary\n";
    return 2;
  }
  const std::string attack = argv[1];
  const auto mode = std::string(argv[2]) == "binary" ? forkipc::serialization::binary : forkipc::serialization::json;
  try {
    auto region = forkipc::detail::byte_stream::receive_setup(channel_fd);
    auto rings = region.ring(1, forkipc::detail::shm::wake_up::by_caller);  // the child writes ring 1
    std::string started;
    forkipc::detail::encode_message(mode, forkipc::json{{"started", true}}, started);
    const iovec piece{started.data(), started.size()};
    rings.write(std::span<const iovec>(&piece, 1));
    const char wake = 'W';
    (void)::send(channel_fd, &wake, 1, MSG_NOSIGNAL);
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (attack == "records_far") {
      for (int i = 0; i < 300; ++i)
        if (send_record(rings.written() + (std::uint64_t{1} << 40) + i, {null}) != 0) break;  // closed: refused
    } else if (attack == "records_held") {
      send_record(rings.written(), {null, null, null});
      ::shutdown(channel_fd, SHUT_WR);
    } else if (attack == "records_flood") {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      for (std::uint64_t i = 0; std::chrono::steady_clock::now() < until; ++i)
        if (send_record(i, {}) != 0) break;  // the parent closed the channel
    } else {
      std::cerr << "shm_attacker: unknown attack " << attack << "\n";
      return 2;
    }
  } catch (const forkipc::error& e) {
    std::cerr << "shm_attacker: " << e.what() << "\n";
    return 2;
  }
  wait_for_the_end();
  return 0;
}
