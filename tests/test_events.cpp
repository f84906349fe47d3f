// The Node-named listener lists under child_process and parent_process.
#include <forkipc/forkipc.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using forkipc::detail::emitter;
namespace events = forkipc::detail::events;
using test_emitter = emitter<events::spawn, events::message, events::exit, events::error>;

TEST_CASE("listeners run in the order added; once-listeners once") {
  test_emitter e;
  std::vector<std::string> calls;
  e.add("spawn", [&] { calls.push_back("a"); }, false);
  e.add("spawn", [&] { calls.push_back("once"); }, true);
  e.add("spawn", [&] { calls.push_back("b"); }, false);
  e.emit<events::spawn>();
  e.emit<events::spawn>();
  CHECK(calls == std::vector<std::string>{"a", "once", "b", "a", "b"});
}

TEST_CASE("a listener added while the event fires sees the next one, not this one") {
  test_emitter e;
  int inner = 0;
  e.add("message", [&](const forkipc::json&) { e.add("message", [&] { ++inner; }, false); }, true);
  e.emit<events::message>(forkipc::json(1), forkipc::handle());
  CHECK(inner == 0);
  e.emit<events::message>(forkipc::json(2), forkipc::handle());
  CHECK(inner == 1);
}

TEST_CASE("arguments reach the listener; a listener may ignore them all") {
  test_emitter e;
  std::optional<int> got_code, got_signal;
  int bare = 0;
  e.add("exit", [&](std::optional<int> c, std::optional<int> s) { got_code = c, got_signal = s; }, false);
  e.add("exit", [&] { ++bare; }, false);
  e.emit<events::exit>(std::optional<int>(3), std::optional<int>());
  CHECK(got_code == 3);
  CHECK_FALSE(got_signal);
  CHECK(bare == 1);
}

TEST_CASE("a listener may take the leading arguments only; the first to take a handle owns it") {
  test_emitter e;
  std::vector<std::string> calls;
  int first_fd = -2, second_fd = -2;
  e.add("message", [&](const forkipc::json& m) { calls.push_back(m.dump()); }, false);
  e.add("message", [&](const forkipc::json&, forkipc::handle h) { first_fd = h.release(); }, false);
  e.add("message", [&](const forkipc::json&, forkipc::handle h) { second_fd = h.fd(); }, false);
  e.emit<events::message>(forkipc::json(7), forkipc::handle(1000));
  CHECK(calls == std::vector<std::string>{"7"});
  CHECK(first_fd == 1000);  // released: the test's fake descriptor is never closed
  CHECK(second_fd == -1);
}

TEST_CASE("an unknown name lists the valid ones; a wrong listener names the signature") {
  test_emitter e;
  try {
    e.add("spwan", [] {}, false);
    FAIL("no exception");
  } catch (const std::invalid_argument& x) {
    CHECK(std::string(x.what()) ==
          "forkipc: unknown event \"spwan\"; the valid events are \"spawn\", \"message\", \"exit\", \"error\"");
  }
  try {
    e.add("error", [](int) {}, false);
    FAIL("no exception");
  } catch (const std::invalid_argument& x) {
    CHECK(std::string(x.what()) == "forkipc: a listener for \"error\" must be callable as "
                                   "void(const forkipc::error& error), or with no arguments");
  }
  CHECK_FALSE(e.has_listeners<events::error>());  // nothing was added by the failed calls
}

TEST_CASE("clear() releases what listeners captured") {
  test_emitter e;
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> weak = token;
  e.add("spawn", [token] {}, false);
  token.reset();
  CHECK_FALSE(weak.expired());
  e.clear();
  CHECK(weak.expired());
}

TEST_CASE("errc is an error-code enum with readable messages") {
  static_assert(std::is_error_code_enum_v<forkipc::errc>);
  const std::error_code ec = forkipc::errc::channel_closed;
  CHECK(ec == forkipc::errc::channel_closed);
  CHECK(ec.category().name() == std::string("forkipc"));
  CHECK(ec.message() == "the IPC channel is closed");
  const forkipc::error e(forkipc::errc::not_forked, "forkipc::parent");
  CHECK(std::string(e.what()).find("forkipc::parent") == 0);
  CHECK(std::string(e.what()).find("not started by fork") != std::string::npos);
}
