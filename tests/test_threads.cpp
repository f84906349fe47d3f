// send() and kill() from other threads than the io_context's, as documented. This suite also
// runs under ThreadSanitizer (.ci/run), which reports any data race it provokes.
#include "support.hpp"

#include <signal.h>

#include <atomic>
#include <map>
#include <thread>

using forkipc::json;
using test::helper;
using test::recorder;
using namespace std::chrono_literals;

TEST_CASE("child_process::send from four threads while the loop runs: every message arrives, each thread's in order") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"));
  recorder seen(*child);
  constexpr int threads = 4, count = 2000;
  std::atomic<int> written{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t)
    senders.emplace_back([&, t] {
      for (int i = 0; i < count; ++i)
        child->send({{"t", t}, {"i", i}}, [&](std::error_code ec) {
          if (!ec) written.fetch_add(1);
        });
    });
  // An on_sent posted from a sending thread may run after the echo of its message: a loop
  // turn can read many echoes (on shared memory, as long as the ring holds more).
  test::run_until(io, [&] {
    return (seen.messages.size() == std::size_t{threads * count} && written.load() == threads * count) || seen.closed();
  }, 120s);
  for (auto& s : senders) s.join();
  CHECK(written.load() == threads * count);
  std::map<int, int> next;
  int out_of_order = 0;
  for (const json& m : seen.messages) {
    const int t = m.at("t"), i = m.at("i");
    if (next[t]++ != i) ++out_of_order;
  }
  CHECK(out_of_order == 0);
  CHECK(seen.errors.empty());
  child->disconnect();
  test::run_to_end(io);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
}

TEST_CASE("kill from another thread while another sends: the child ends, close comes once, late sends fail cleanly") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"));
  recorder seen(*child);
  std::atomic<int> arrived{0};
  child->on("message", [&] { arrived.fetch_add(1); });
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, failed{0};
  // Sends until the end has been seen and one send has been made on the closed channel (the
  // thread may get no time between the close and the stop otherwise); backs off above the
  // high-water mark, so that the queue stays small.
  std::thread sender([&] {
    for (int i = 0;; ++i) {
      const bool after_close = !child->connected();
      if (!child->send(i, [&](std::error_code ec) { (ec ? failed : sent).fetch_add(1); }))
        std::this_thread::yield();
      if (after_close && stop.load()) break;
    }
  });
  std::atomic<bool> killed{false};
  std::thread killer([&] {
    while (arrived.load() < 100) std::this_thread::yield();
    killed = child->kill(SIGKILL);
  });
  test::run_until(io, [&] { return seen.closed(); }, 60s);
  stop = true;
  sender.join();
  killer.join();
  test::run_to_end(io);  // the callbacks of the sends after the end
  CHECK(killed.load());
  CHECK(child->killed());
  CHECK(seen.closes == 1);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit SIG9", "close SIG9"});
  CHECK(failed.load() > 0);
}

TEST_CASE("parent_process::send from four threads of a child: every message arrives, each thread's in order") {
  boost::asio::io_context io;
  constexpr int threads = 4, count = 1000;
  auto child = test::fork(io, helper("threaded_sender"), {std::to_string(threads), std::to_string(count)});
  recorder seen(*child);
  test::run_until(io, [&] { return (!seen.messages.empty() && seen.messages.back().contains("done")) || seen.closed(); });
  REQUIRE(seen.messages.size() == std::size_t{threads * count + 1});
  std::map<int, int> next;
  int out_of_order = 0;
  for (std::size_t k = 0; k + 1 < seen.messages.size(); ++k) {
    const int t = seen.messages[k].at("t"), i = seen.messages[k].at("i");
    if (next[t]++ != i) ++out_of_order;
  }
  CHECK(out_of_order == 0);
  child->disconnect();
  test::run_to_end(io);
  // Under ThreadSanitizer, a race in the child would end it with 66.
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
}

TEST_CASE("sync::child::kill from another thread ends a send that blocks on a child that does not read") {
  test::sync_child child(helper("sleeper"));
  const json big = std::string(std::size_t{16} << 20, 'b');
  std::thread killer([&] { child.kill(SIGKILL); });  // whether send has begun to block or not
  try {
    child.send(big);
    FAIL("send did not throw");
  } catch (const forkipc::error& e) {
    CHECK(e.code() == forkipc::errc::channel_closed);
  }
  killer.join();
  CHECK(child.wait().second == SIGKILL);
}
