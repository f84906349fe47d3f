// The outgoing queue: gathering, partial writes, completion order.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "transport/write_queue.hpp"

using forkipc::detail::write_queue;

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
