// The blocking API: sync::child as the parent, sync::parent (through helpers) as the child.
#include "support.hpp"

#include <algorithm>
#include <csignal>

using forkipc::json;
using test::helper;
using namespace std::chrono_literals;

TEST_CASE("sync::child: send and receive, then disconnect and wait") {
  for (const char* program : {"echo_sync", "echo_async"}) {
    CAPTURE(program);
    test::sync_child child(helper(program));
    CHECK(child.pid() > 0);
    child.send({{"hello", "世界"}});
    child.send(std::string(3u << 20, 'm'));  // larger than the socket's buffer
    CHECK(child.receive(30s) == json{{"hello", "世界"}});
    CHECK(child.receive(30s) == std::string(3u << 20, 'm'));
    child.disconnect();
    CHECK(child.receive() == std::nullopt);
    CHECK(child.wait() == std::pair<std::optional<int>, std::optional<int>>{0, std::nullopt});
    CHECK(child.wait() == std::pair<std::optional<int>, std::optional<int>>{0, std::nullopt});
    CHECK_THROWS_AS(child.send("after disconnect"), forkipc::error);
  }
}

TEST_CASE("sync::child: receive gives up after its timeout") {
  test::sync_child child(helper("echo_sync"));
  const auto start = std::chrono::steady_clock::now();
  CHECK(child.receive(100ms) == std::nullopt);
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 100ms);
  CHECK(waited < 10s);
  child.send(1);  // still usable
  CHECK(child.receive(30s) == 1);
}

TEST_CASE("sync::child: kill, and the signal comes back from wait") {
  test::sync_child child(helper("sleeper"));
  CHECK(child.kill(SIGKILL));
  CHECK(child.wait() == std::pair<std::optional<int>, std::optional<int>>{std::nullopt, SIGKILL});
  CHECK_FALSE(child.kill());  // gone
  CHECK(child.receive(1s) == std::nullopt);
}

TEST_CASE("sync::child: the timeout option kills a child that runs too long") {
  test::sync_child waited(helper("sleeper"), {}, {.timeout = 100ms});
  CHECK(waited.wait() == std::pair<std::optional<int>, std::optional<int>>{std::nullopt, SIGTERM});

  test::sync_child received(helper("sleeper"), {}, {.timeout = 100ms, .kill_signal = SIGKILL});
  CHECK(received.receive() == std::nullopt);  // the kill ends the channel too
  CHECK(received.wait().second == SIGKILL);
}

TEST_CASE("sync::child: a bad line throws, and the next receive goes on") {
  forkipc::sync::child child(helper("raw_peer"), {"100"}, {.max_message_size = 64});
  std::vector<json> messages;
  std::vector<forkipc::errc> errors;
  while (messages.size() < 5) {
    try {
      auto m = child.receive(30s);
      REQUIRE(m);
      messages.push_back(*m);
    } catch (const forkipc::error& e) {
      errors.push_back(static_cast<forkipc::errc>(e.code().value()));
    }
  }
  CHECK(messages == std::vector<json>{{{"n", 1}}, {{"n", 3}}, {{"n", 4}}, {{"cmd", "NODE_"}}, {{"n", 5}}});
  CHECK(errors == std::vector<forkipc::errc>{forkipc::errc::malformed_message, forkipc::errc::malformed_message,
                                             forkipc::errc::message_too_large, forkipc::errc::malformed_message});
}

TEST_CASE("sync::child: the destructor leaves no zombie, even for a child that ignores its channel") {
  const auto fds_before = test::open_fds();
  {
    test::sync_child polite(helper("echo_sync"));  // exits once disconnected
    test::sync_child stubborn(helper("sleeper"));  // needs the SIGKILL
    test::sync_child finished(helper("exit_with"), {"4"});
    CHECK(finished.wait().first == 4);
  }
  CHECK(test::child_pids().empty());
  CHECK(test::open_fds() == fds_before);
}

TEST_CASE("sync::child: a program that cannot be started throws and leaves nothing") {
  const auto fds_before = test::open_fds();
  CHECK_THROWS_AS(forkipc::sync::child("/nonexistent/forkipc-program"), forkipc::error);
  CHECK(test::open_fds() == fds_before);
  CHECK(test::child_pids().empty());
}

TEST_CASE("sync::child is movable") {
  test::sync_child first(helper("echo_sync"));
  forkipc::sync::child second = std::move(first);
  second.send("moved");
  CHECK(second.receive(30s) == "moved");
}

TEST_CASE("sync::child: a child replaced by move assignment ends as the destructor ends it, with its grace period") {
  test::sync_child stubborn(helper("sleeper"));  // ignores its channel: only the SIGKILL ends it
  const pid_t replaced = stubborn.pid();
  const auto start = std::chrono::steady_clock::now();
  stubborn = test::sync_child(helper("echo_sync"));
  // Disconnected, then given the grace period before the SIGKILL, as in the destructor.
  CHECK(std::chrono::steady_clock::now() - start >= 450ms);
  const auto pids = test::child_pids();
  CHECK(std::find(pids.begin(), pids.end(), replaced) == pids.end());  // and reaped
  stubborn.send("after");
  CHECK(stubborn.receive(30s) == "after");
}

TEST_CASE("without a channel, the child side says so") {
  ::unsetenv("NODE_CHANNEL_FD");
  CHECK_FALSE(forkipc::has_parent());
  try {
    forkipc::sync::parent parent;
    FAIL("no exception");
  } catch (const forkipc::error& e) {
    CHECK(e.code() == forkipc::errc::not_forked);
  }
  boost::asio::io_context io;
  CHECK_THROWS_AS(forkipc::parent(io), forkipc::error);
}
