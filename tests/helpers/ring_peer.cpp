// A child on the shared-memory transport that stops writing in the middle of a frame, as a
// peer does when it is SIGKILLed or SIGSTOPped while it sends a large message. It maps the
// rings the parent passed (with forkipc's own internals: no public API writes half a frame),
// publishes one whole message, {"started": true}, with the first half of a frame that claims
// 512 KiB, wakes the parent, and waits for a signal.
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include <forkipc/error.hpp>
#include <forkipc/json.hpp>

#include "codec/binary_frames.hpp"
#include "transport/byte_stream.hpp"

namespace {

constexpr int channel_fd = 3;

// Copies both into the ring and publishes them at once: whoever sees the first sees the second.
void publish(forkipc::detail::shm::byte_ring& rings, std::string_view whole, std::string_view half) {
  const iovec pieces[2] = {{const_cast<char*>(whole.data()), whole.size()},
                           {const_cast<char*>(half.data()), half.size()}};
  if (rings.write(pieces) != whole.size() + half.size()) {
    std::cerr << "ring_peer: the ring has no room for " << whole.size() + half.size() << " bytes\n";
    std::exit(2);
  }
}

}  // namespace

int main() {
  const char* mode = std::getenv("NODE_CHANNEL_SERIALIZATION_MODE");
  if (mode == nullptr || std::string(mode) != "forkipc-binary-shm") {
    std::cerr << "ring_peer: run me with binary serialization on the shared-memory transport\n";
    return 2;
  }
  try {
    auto region = forkipc::detail::byte_stream::receive_setup(channel_fd);
    auto rings = region.ring(1, forkipc::detail::shm::wake_up::by_caller);  // the child writes ring 1
    std::string started, large;
    forkipc::detail::encode_binary_frame(forkipc::json{{"started", true}}, started);
    forkipc::detail::encode_binary_frame(forkipc::json(std::string(std::size_t{512} << 10, 'h')), large);
    publish(rings, started, std::string_view(large).substr(0, large.size() / 2));
    // The parent may have gone to sleep on the socket: a wake-up byte, whether or not it asked.
    const char wake = 'W';
    (void)::send(channel_fd, &wake, 1, MSG_NOSIGNAL);
  } catch (const forkipc::error& e) {
    std::cerr << "ring_peer: " << e.what() << "\n";
    return 2;
  }
  for (;;) ::pause();
}
