// libFuzzer target: the shared-memory transport's ring (shm/byte_ring) consumer and producer against a hostile peer that
// writes anything anywhere in the region, with what is read fed to the binary frame decoder.
//
// Both ends of a small region live in this process: "us" (the parent's end, whose code is under
// test) and a raw second mapping standing in for the peer, which the input drives. Each input
// byte pair is an operation: the peer writes frame bytes into its ring and publishes a position
// (right, torn or impossible), moves our ring's read position anywhere, or sets flags; we read,
// write, and go to sleep. Checks, besides what ASan and UBSan catch: a read never returns more
// than asked nor more than a ring; an impossible position is refused with forkipc::error (and
// the end stops using the ring, as the channel does); the decoder never holds more than its
// limit plus one read.
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <forkipc/error.hpp>

#include "codec/binary_frames.hpp"
#include "shm/mapping.hpp"
#include "shm/byte_ring.hpp"

using forkipc::detail::shm::byte_ring;
using forkipc::detail::shm::ring_region;

namespace {

constexpr std::size_t capacity = 4096;
constexpr std::size_t max_message = 8192;

void require(bool condition) {
  if (!condition) std::abort();
}

// The layout byte_ring.cpp writes: producer lines at 64 (ring 0) and 192 (ring 1), the consumer's
// 64 bytes after (a line: position, bell, flag, note); data after the 4 KiB header. We are the
// parent: we write ring 0, read ring 1.
struct peer_view {
  char* base;
  std::uint64_t& word(std::size_t offset) { return *reinterpret_cast<std::uint64_t*>(base + offset); }
  std::uint64_t& their_write() { return word(192); }
  std::uint64_t& our_read_of_theirs() { return word(192 + 64); }
  std::uint64_t& their_read_of_ours() { return word(64 + 64); }
  std::uint32_t& flag(std::size_t offset) { return *reinterpret_cast<std::uint32_t*>(base + offset); }
  char* their_data() { return base + ring_region::header_size + capacity; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  forkipc::detail::unique_fd fd;
  ring_region region = ring_region::create("fuzz", 2, capacity, fd);
  std::optional<byte_ring> us_out = region.ring(0, forkipc::detail::shm::wake_up::by_caller);
  std::optional<byte_ring> us_in = region.ring(1, forkipc::detail::shm::wake_up::by_caller);
  std::error_code ec;
  auto raw = forkipc::detail::shm::map_shared(fd.get(), ring_region::header_size + 2 * capacity,
                                              forkipc::detail::shm::populate::no, ec);
  require(!ec);
  peer_view peer{static_cast<char*>(raw.get_address())};

  forkipc::detail::binary_frame_decoder decoder(max_message);
  std::uint64_t peer_written = 0;  // where an honest peer would be
  std::vector<char> out(capacity * 2);
  bool broken = false;
  for (std::size_t i = 0; i + 1 < size && !broken; i += 2) {
    const std::uint8_t op = data[i], arg = data[i + 1];
    try {
      switch (op % 8) {
        case 0: {  // the peer writes arg bytes of the input (frame bytes) and publishes them
          const std::size_t n = std::min<std::size_t>(arg, size - i - 2);
          for (std::size_t k = 0; k < n; ++k)
            peer.their_data()[(peer_written + k) & (capacity - 1)] = static_cast<char>(data[i + 2 + k]);
          peer_written += n;
          peer.their_write() = peer_written;
          break;
        }
        case 1:  // the peer publishes a position of its own making (torn, far, behind)
          peer.their_write() = peer_written + static_cast<std::int8_t>(arg) * (capacity / 16);
          break;
        case 2:  // the peer moves our ring's read position anywhere
          peer.their_read_of_ours() = us_out->written() - static_cast<std::int8_t>(arg) * 64;
          break;
        case 3:  // the peer scribbles over the whole header's flag words
          peer.flag(64 + 8) = arg;             // our producer's bell
          peer.flag(64 + 12) = arg;            // our producer's flag
          peer.flag(192 + 64 + 12) = arg;      // their consumer's flag
          peer.word(192 + 16) += arg;          // their note (the records count)
          break;
        case 4: {  // we read, and decode
          const std::size_t want = std::size_t{arg} * 32 + 1;
          const std::size_t got = us_in->read({out.data(), want});
          require(got <= want && got <= capacity);
          decoder.feed({out.data(), got});
          while (auto message = decoder.next()) {
          }
          require(decoder.buffered() <= max_message + 16 + capacity);
          if (decoder.broken()) broken = true;
          break;
        }
        case 5: {  // we write
          const std::string bytes(std::size_t{arg} * 64, 'x');
          const iovec piece{const_cast<char*>(bytes.data()), bytes.size()};
          require(us_out->write({&piece, 1}) <= bytes.size());
          break;
        }
        case 6:
          if (!us_in->prepare_to_sleep()) us_in->awake();
          (void)us_in->take_producer_waiting();
          (void)us_in->note();
          break;
        case 7:
          (void)us_out->prepare_to_wait_for_space();
          (void)us_out->take_consumer_sleeping();
          break;
      }
    } catch (const forkipc::error&) {
      broken = true;  // the channel ends here: no further use of the ring
    }
  }
  return 0;
}
