// shm::byte_ring and shm::ring_region without a channel: both ends of a region in this process,
// and a second mapping of it standing in for a peer that writes anything.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <forkipc/error.hpp>

#include "shm/byte_ring.hpp"
#include "shm/mapping.hpp"
#include "shm/platform.hpp"

using forkipc::detail::unique_fd;
using forkipc::detail::shm::byte_ring;
using forkipc::detail::shm::ring_region;
using forkipc::detail::shm::wake_up;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t capacity = 4096;

struct region_pair {
  unique_fd fd;
  ring_region ours = ring_region::create("forkipc-test", 2, capacity, fd);
  std::optional<ring_region> theirs;
  byte_ring out, in;  // the producer's and the consumer's views of ring 0

  explicit region_pair(wake_up how = wake_up::by_caller) {
    std::string why;
    theirs = ring_region::open(fd, 2, why);
    REQUIRE_MESSAGE(theirs, why);
    out = ours.ring(0, how);
    in = theirs->ring(0, how);
  }

  std::size_t write(const std::string& bytes) {
    const iovec piece{const_cast<char*>(bytes.data()), bytes.size()};
    return out.write(std::span<const iovec>(&piece, 1));
  }

  std::string read(std::size_t n) {
    std::string bytes(n, '\0');
    bytes.resize(in.read(bytes));
    return bytes;
  }

  // A word of ring 0's lines as the region holds it: the peer may write anything there.
  std::uint64_t& word(std::size_t offset) {
    char* base = static_cast<char*>(raw.get_address());
    return *reinterpret_cast<std::uint64_t*>(base + 64 + offset);
  }

  boost::interprocess::mapped_region raw = [this] {
    std::error_code ec;
    auto region = forkipc::detail::shm::map_shared(fd.get(), ring_region::header_size + 2 * capacity,
                                                   forkipc::detail::shm::populate::no, ec);
    REQUIRE(!ec);
    return region;
  }();
};

std::string pattern(std::size_t n, char seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 7);
  return s;
}

}  // namespace

TEST_CASE("byte_ring: empty, then what was written, in order, across the end of the ring") {
  region_pair rings;
  CHECK(rings.in.readable() == 0);
  CHECK(rings.read(100).empty());
  for (int round = 0; round < 5; ++round) {  // 3000 bytes at a time: each round after the first wraps
    const std::string bytes = pattern(3000, static_cast<char>(round));
    CHECK(rings.write(bytes) == 3000);
    CHECK(rings.in.readable() == 3000);
    CHECK(rings.read(3000) == bytes);
  }
  CHECK(rings.out.written() == 15000);
  CHECK(rings.in.read_position() == 15000);
}

TEST_CASE("byte_ring: full takes nothing more; the producer waits, and the consumer's read wakes it") {
  region_pair rings;
  const std::string bytes = pattern(5000, 'a');
  CHECK(rings.write(bytes) == capacity);  // what fits
  CHECK(rings.write("more") == 0);
  CHECK_FALSE(rings.out.prepare_to_wait_for_space());  // nothing read yet: wait
  CHECK(rings.read(100) == bytes.substr(0, 100));
  CHECK(rings.in.take_producer_waiting());  // the consumer wakes it
  CHECK_FALSE(rings.in.take_producer_waiting());  // once
  CHECK(rings.write("more") == 4);
}

TEST_CASE("byte_ring: a sleeping consumer is woken once, by the next write") {
  region_pair rings;
  CHECK_FALSE(rings.in.prepare_to_sleep());  // nothing to read: it sleeps
  CHECK(rings.write("x") == 1);
  CHECK(rings.out.take_consumer_sleeping());
  CHECK_FALSE(rings.out.take_consumer_sleeping());
  rings.in.awake();
  CHECK(rings.in.prepare_to_sleep());  // bytes came: no need to sleep
}

TEST_CASE("byte_ring: positions the peer could not have published are refused, never followed") {
  SUBCASE("a write position more than a ring ahead") {
    region_pair rings;
    rings.word(0) = capacity + 1;  // the producer line's position
    CHECK_THROWS_AS(rings.in.readable(), forkipc::error);
  }
  SUBCASE("a write position behind what was read") {
    region_pair rings;
    rings.write("abcd");
    rings.read(4);
    rings.word(0) = 2;
    CHECK_THROWS_AS(rings.in.readable(), forkipc::error);
  }
  SUBCASE("a read position ahead of what was written") {
    region_pair rings;
    rings.write(pattern(capacity, 'q'));
    rings.word(64) = capacity + 10;  // the consumer line's position
    CHECK_THROWS_AS(rings.write("x"), forkipc::error);
    CHECK_THROWS_AS(rings.out.prepare_to_wait_for_space(), forkipc::error);
  }
  SUBCASE("garbage in the flags and notes is only a spurious wake-up") {
    region_pair rings;
    rings.word(8) = ~std::uint64_t{0};  // the producer's bell and flag
    rings.word(64 + 8) = ~std::uint64_t{0};
    CHECK(rings.write("ok") == 2);
    CHECK(rings.read(2) == "ok");
  }
}

TEST_CASE("byte_ring by position: copies cross the end; release never moves back; the note is the producer's") {
  region_pair rings(wake_up::doorbell);
  const std::string bytes = pattern(1000, 'p');
  const std::span<const std::uint8_t> view(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  rings.out.copy_in(capacity - 300, view);  // 300 bytes at the end, 700 at the start
  rings.out.publish(capacity + 700);
  CHECK(rings.in.published() == capacity + 700);
  std::vector<std::uint8_t> got;
  rings.in.copy_out(capacity - 300, 1000, got);
  CHECK(std::string(got.begin(), got.end()) == bytes);
  rings.in.release_to(500);
  rings.in.release_to(100);
  CHECK(rings.out.released() == 500);
  rings.out.set_note(42);
  CHECK(rings.in.note() == 42);
}

TEST_CASE("byte_ring with its doorbell: a sleeper wakes at the move, not at its timeout") {
  region_pair rings(wake_up::doorbell);
  const std::uint32_t seen = rings.in.producer_bell();
  const auto start = std::chrono::steady_clock::now();
  std::thread producer([&] {
    std::this_thread::sleep_for(20ms);  // lets the consumer go to sleep first, most of the time
    rings.out.publish(1);
  });
  while (rings.in.published() == 0) rings.in.sleep_for_producer(seen, 30s);
  producer.join();
  CHECK(std::chrono::steady_clock::now() - start < 20s);  // woken, not timed out
}

TEST_CASE("ring_region: what open() refuses") {
  std::string why;
  SUBCASE("another count of rings") {
    unique_fd fd;
    auto region = ring_region::create("forkipc-test", 2, capacity, fd);
    CHECK_FALSE(ring_region::open(fd, 1, why));
    CHECK(why.find("2 rings") != std::string::npos);
  }
  SUBCASE("a file that is not shared memory of the backend's (not a sealed memfd on Linux)") {
    unique_fd file(::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    REQUIRE(::ftruncate(file.get(), 8192) == 0);
    CHECK_FALSE(ring_region::open(file, 1, why));
    CHECK_FALSE(why.empty());
  }
  SUBCASE("shared memory as forkipc makes it (a sealed memfd on Linux), without forkipc's mark") {
    std::error_code ec;
    unique_fd fd = forkipc::detail::shm::create_shared_file("other", ring_region::header_size + capacity,
                                                           forkipc::detail::shm::sealing::size, ec);
    REQUIRE(fd);
    CHECK_FALSE(ring_region::open(fd, 1, why));
    CHECK(why.find("not one of forkipc's") != std::string::npos);
  }
  unique_fd unused;
  CHECK_THROWS_AS(ring_region::create("forkipc-test", 1, 3000, unused), std::invalid_argument);
}
