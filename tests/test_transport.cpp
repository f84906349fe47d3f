// The transport layer without a channel: the outgoing queue (gathering, partial writes,
// completion order), the descriptors received until a message claims them, and byte_stream on
// both transports between two ends in this process.
#include "support.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <forkipc/error.hpp>

#include "transport/byte_stream.hpp"
#include "transport/received_descriptors.hpp"
#include "transport/write_queue.hpp"

using forkipc::detail::write_queue;
using forkipc::detail::unique_fd;
using namespace std::chrono_literals;

namespace {

std::string gathered(const write_queue& queue) {
  std::vector<iovec> iov(64);
  const std::size_t n = queue.gather(iov);
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  return out;
}

void push(write_queue& queue, const std::string& bytes, write_queue::callback cb = {}) {
  queue.push([&](std::string& out) { out += bytes; }, std::move(cb));
}

}  // namespace

TEST_CASE("small messages share a chunk and leave together") {
  write_queue queue;
  for (int i = 0; i < 1000; ++i) push(queue, "{\"n\":" + std::to_string(i) + "}\n");
  std::vector<iovec> iov(64);
  CHECK(queue.gather(iov) == 1);  // all in one chunk: one iovec
  CHECK(queue.size() == gathered(queue).size());
}

TEST_CASE("callbacks complete in order, when their last byte is written") {
  write_queue queue;
  std::vector<int> done;
  push(queue, "aaaa", [&](std::error_code) { done.push_back(1); });
  push(queue, "bb");  // no callback
  push(queue, "cccccc", [&](std::error_code) { done.push_back(3); });
  std::vector<write_queue::callback> completed;
  queue.consume(3, completed);
  CHECK(completed.empty());
  CHECK(gathered(queue) == "abbcccccc");
  queue.consume(1, completed);
  REQUIRE(completed.size() == 1);
  queue.consume(8, completed);
  REQUIRE(completed.size() == 2);
  for (auto& cb : completed) cb({});
  CHECK(done == std::vector<int>{1, 3});
  CHECK(queue.empty());
}

TEST_CASE("a failed encoding queues nothing") {
  write_queue queue;
  push(queue, "kept");
  CHECK_THROWS(queue.push([](std::string& out) { out += "partial"; throw 1; }, {}));
  CHECK(gathered(queue) == "kept");
  CHECK(queue.size() == 4);
}

TEST_CASE("large messages get chunks of their own, and clear() hands back every callback") {
  write_queue queue;
  push(queue, "small");
  push(queue, std::string(200 * 1024, 'L'));
  push(queue, "after", [](std::error_code) {});
  CHECK(queue.size() == 5 + 200 * 1024 + 5);
  CHECK(gathered(queue).size() == queue.size());
  std::vector<write_queue::callback> dropped;
  queue.clear(dropped);
  CHECK(dropped.size() == 1);
  CHECK(queue.empty());
  push(queue, "again");
  CHECK(gathered(queue) == "again");
}

TEST_CASE("a message's descriptors lead the write that starts with it, and are closed once sent") {
  write_queue queue;
  int ends[2];
  REQUIRE(::pipe(ends) == 0);
  ::close(ends[0]);
  push(queue, "aaa");
  push(queue, "bbb");
  queue.attach(forkipc::detail::unique_fd(ends[1]));
  push(queue, "ccc");
  std::vector<write_queue::callback> done;
  CHECK(queue.fds_at_front().empty());
  CHECK(gathered(queue) == "aaa");  // stops before the message with a descriptor
  queue.consume(3, done);
  CHECK(queue.fds_at_front() == std::vector<int>{ends[1]});
  CHECK(gathered(queue) == "bbbccc");
  queue.consume(1, done);  // a partial write took the descriptor with its first byte
  CHECK(queue.fds_at_front().empty());
  CHECK(::fcntl(ends[1], F_GETFD) == -1);  // closed
  CHECK(gathered(queue) == "bbccc");
}

TEST_CASE("received descriptors: a message takes only those that came with its bytes; the rest are closed once it is done") {
  using forkipc::detail::received_descriptors;
  using forkipc::detail::stream_span;
  const auto null_fd = [] { return unique_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); };
  received_descriptors fds;
  // One read brought the end of message A [0, 10) and all of B [10, 20), with two descriptors
  // (B's, sent with its first byte: the kernel joins the writes into one read).
  fds.add({5, 20}, null_fd());
  fds.add({5, 20}, null_fd());
  CHECK_FALSE(fds.take({20, 30}));  // C came after that read: not C's
  fds.settle(10);                   // A is done: the read went past it, so B may still take them
  CHECK(fds.size() == 2);
  CHECK(fds.take({10, 20}));
  fds.settle(20);                   // B is done: the one it did not take is closed
  CHECK(fds.size() == 0);
  auto closed = fds.take_closed();
  CHECK(closed.closed == 1);
  CHECK_FALSE(closed.truncated);
  CHECK_FALSE(fds.take_closed());
  // More than can be held are closed as they come.
  for (std::size_t i = 0; i < received_descriptors::max_held + 3; ++i) fds.add({30, 31}, null_fd());
  CHECK(fds.size() == received_descriptors::max_held);
  fds.add_truncated();
  fds.settle(31);
  closed = fds.take_closed();
  CHECK(closed.closed == received_descriptors::max_held + 3);
  CHECK(closed.truncated);
}

namespace {

using forkipc::detail::byte_stream;
using forkipc::detail::deadline;
using forkipc::detail::receive_buffer;
using forkipc::detail::received_descriptors;

unique_fd dev_null() { return unique_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

// Two ends of one channel in this process, on either transport: the parent's end creates the
// rings and passes them first on the socket, as spawn does, the child's takes them.
struct stream_pair {
  unique_fd parent_socket, child_socket;
  std::optional<byte_stream> parent, child;

  explicit stream_pair(bool shared_memory) {
    int ends[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, ends) == 0);
    parent_socket = unique_fd(ends[0]);
    child_socket = unique_fd(ends[1]);
    if (!shared_memory) {
      parent.emplace(parent_socket.get());
      child.emplace(child_socket.get());
      return;
    }
    unique_fd region;
    auto rings = byte_stream::create_rings(region);
    byte_stream::send_setup(parent_socket.get(), region);
    parent.emplace(parent_socket.get(), std::move(rings));
    child.emplace(child_socket.get(), byte_stream::receive_setup(child_socket.get()));
  }

  // Writes what queue holds (all of it: the test keeps it small or reads meanwhile).
  void write(write_queue& queue) {
    std::vector<write_queue::callback> done;
    REQUIRE(parent->write_all(queue, done, deadline(10s)) == 0);
  }

  // Reads from the child's end until n bytes came (or 10 s passed).
  std::string read(std::size_t n, received_descriptors& fds) {
    receive_buffer buffer(1 << 20);
    const deadline until(10s);
    while (buffer.size() < n && !until.passed()) {
      const long got = child->read(buffer, fds, 64 * 1024);
      if (got == -EAGAIN) child->wait_readable(deadline(100ms));
      REQUIRE(got != 0);
    }
    return std::string(buffer.data());
  }
};

}  // namespace

TEST_CASE("byte_stream: bytes and the descriptors of their message cross, on both transports") {
  for (const bool shared_memory : {false, true}) {
    CAPTURE(shared_memory);
    stream_pair pair(shared_memory);
    CHECK(pair.parent->shared_memory() == shared_memory);
    write_queue queue;
    push(queue, "first;");
    push(queue, "second;");
    queue.attach(dev_null());
    push(queue, "third;");
    pair.write(queue);
    received_descriptors fds;
    CHECK(pair.read(19, fds) == "first;second;third;");
    // On shared memory the descriptor's record names the position of "second;" [6, 13); on the
    // socket it comes with a read that may hold the other messages too, and any message of that
    // read may claim it (the decoder then decides which may: see received_descriptors).
    if (shared_memory) CHECK_FALSE(fds.take({0, 6}));
    CHECK(fds.take({6, 13}));
    CHECK(fds.size() == 0);
  }
}

TEST_CASE("byte_stream: the end of the stream comes after every byte the peer wrote") {
  for (const bool shared_memory : {false, true}) {
    CAPTURE(shared_memory);
    stream_pair pair(shared_memory);
    write_queue queue;
    push(queue, std::string(1000, 'x'));
    pair.write(queue);
    pair.parent_socket.reset();  // the peer is gone
    received_descriptors fds;
    receive_buffer buffer(1 << 20);
    long got = 0;
    const deadline until(10s);
    while ((got = pair.child->read(buffer, fds, 64 * 1024)) != 0 && !until.passed()) {
      if (got == -EAGAIN) pair.child->wait_readable(deadline(100ms));
    }
    CHECK(got == 0);
    CHECK(buffer.size() == 1000);
  }
}

TEST_CASE("byte_stream on shared memory: a sleeping reader is woken through the socket, a full ring waits for room") {
  stream_pair pair(true);
  received_descriptors fds;
  // Nothing to read: the reader says it sleeps, and the writer wakes it with a byte.
  CHECK_FALSE(pair.child->has_input());
  CHECK_FALSE(pair.child->prepare_to_sleep());
  write_queue queue;
  push(queue, "wake");
  pair.write(queue);
  CHECK(pair.child->wait_readable(deadline(10s)));
  pair.child->awake();
  CHECK(pair.read(4, fds) == "wake");
  // More than the ring holds: the writer gets ring_full, and goes on once the reader read.
  const std::string large(byte_stream::ring_capacity + 4096, 'L');
  push(queue, large);
  std::vector<write_queue::callback> done;
  CHECK(pair.parent->write(queue, done) == byte_stream::ring_full);
  std::thread reader([&] {
    received_descriptors reader_fds;
    CHECK(pair.read(large.size(), reader_fds) == large);
  });
  CHECK(pair.parent->write_all(queue, done, deadline(30s)) == 0);
  reader.join();
}

TEST_CASE("byte_stream on shared memory: the rings are mapped from shared memory with no name") {
  stream_pair pair(true);
  std::ifstream maps("/proc/self/maps");
  std::size_t rings = 0, named = 0;
  for (std::string line; std::getline(maps, line);) {
    if (test::is_forkipc_shared_memory(line, "forkipc-channel")) ++rings;
    // The posix backend's shm_open object was in /dev/shm only until it was unlinked, at once.
    if (line.find("/dev/shm") != std::string::npos && line.find("(deleted)") == std::string::npos) ++named;
  }
  CHECK(rings == 2);  // the parent's end and the child's
  CHECK(named == 0);
}
