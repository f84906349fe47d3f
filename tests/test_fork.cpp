// forkipc::fork and child_process, against real children.
#include "support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

using forkipc::json;
using test::helper;
using test::recorder;
using namespace std::chrono_literals;


TEST_CASE("every kind of JSON value makes the round trip through an async child") {
  test::check_round_trips(helper("echo_async"), test::every_kind_of_value());
}

TEST_CASE("every kind of JSON value makes the round trip through a sync::parent child") {
  test::check_round_trips(helper("echo_sync"), test::every_kind_of_value());
}

TEST_CASE("an 8 MiB string makes the round trip") {
  std::string big(8u << 20, ' ');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  big.replace(1000, 4, "中文");
  test::check_round_trips(helper("echo_async"), {big, json{{"big", big}}});
}

TEST_CASE("100k messages arrive in the order they were sent") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"));
  constexpr int count = 100'000;
  int received = 0, out_of_order = 0;
  child->on("message", [&](const json& m) {
    if (m.at("i").get<int>() != received) ++out_of_order;
    ++received;
  });
  // Both ways at once: the child echoes while the parent is still sending.
  for (int i = 0; i < count; ++i) child->send({{"i", i}});
  test::run_until(io, [&] { return received == count; }, 120s);
  CHECK(out_of_order == 0);
  child->disconnect();
  test::run_to_end(io);

  // And a burst from the child.
  auto sender = test::fork(io, helper("echo_async"));
  received = 0;
  bool done = false;
  sender->on("message", [&](const json& m) {
    if (m.contains("done")) {
      done = true;
      return;
    }
    if (m.at("i").get<int>() != received) ++out_of_order;
    ++received;
  });
  sender->send({{"do", "send"}, {"count", count}});
  test::run_until(io, [&] { return done; }, 120s);
  CHECK(received == count);
  CHECK(out_of_order == 0);
  sender->disconnect();
  test::run_to_end(io);
}

TEST_CASE("event order") {
  boost::asio::io_context io;

  SUBCASE("normal exit: spawn, messages, disconnect, exit, close") {
    auto child = test::fork(io, helper("echo_async"));
    recorder seen(*child);
    child->send({{"do", "exit"}, {"code", 7}});
    test::run_to_end(io);
    CHECK(seen.events == std::vector<std::string>{"spawn", "message", "disconnect", "exit 7", "close 7"});
    CHECK(seen.messages == std::vector<json>{{{"bye", 7}}});
    CHECK(child->exit_code() == 7);
    CHECK_FALSE(child->signal_code());
    CHECK_FALSE(child->connected());
    CHECK_FALSE(child->killed());
  }

  SUBCASE("kill(): the signal ends it") {
    auto child = test::fork(io, helper("sleeper"));
    recorder seen(*child);
    test::run_until(io, [&] { return !seen.events.empty(); });
    CHECK(child->kill());
    CHECK(child->killed());
    test::run_to_end(io);
    CHECK(seen.events == std::vector<std::string>{"spawn", "disconnect", "exit SIG15", "close SIG15"});
    CHECK(child->signal_code() == SIGTERM);
    CHECK_FALSE(child->exit_code());
    CHECK_FALSE(child->kill());  // it is gone: false, and no error
    test::run_to_end(io);
    CHECK(seen.errors.empty());
  }

  SUBCASE("kill() with another signal, before the loop ever ran") {
    auto child = test::fork(io, helper("sleeper"));
    recorder seen(*child);
    CHECK(child->kill(SIGKILL));
    test::run_to_end(io);
    CHECK(seen.events == std::vector<std::string>{"spawn", "disconnect", "exit SIG9", "close SIG9"});
  }

  SUBCASE("a crash through abort()") {
    auto child = test::fork(io, helper("echo_async"));
    recorder seen(*child);
    child->send({{"do", "abort"}});
    test::run_to_end(io);
    CHECK(seen.events == std::vector<std::string>{"spawn", "disconnect", "exit SIG6", "close SIG6"});
  }

  SUBCASE("a crash through SIGSEGV") {
    auto child = test::fork(io, helper("echo_async"));
    recorder seen(*child);
    child->send({{"do", "segv"}});
    test::run_to_end(io);
    CHECK(seen.events == std::vector<std::string>{"spawn", "disconnect", "exit SIG11", "close SIG11"});
  }

  SUBCASE("timeout sends kill_signal") {
    auto child = test::fork(io, helper("sleeper"), {}, {.timeout = 100ms});
    recorder seen(*child);
    test::run_to_end(io);
    CHECK(seen.events == std::vector<std::string>{"spawn", "disconnect", "exit SIG15", "close SIG15"});
    CHECK(child->killed());

    auto hard = test::fork(io, helper("sleeper"), {}, {.timeout = 50ms, .kill_signal = SIGKILL});
    recorder hard_seen(*hard);
    test::run_to_end(io);
    CHECK(hard_seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit SIG9", "close SIG9"});
  }

  SUBCASE("a timeout that does not expire changes nothing") {
    auto child = test::fork(io, helper("echo_async"), {}, {.timeout = 60s});
    recorder seen(*child);
    child->send({{"do", "exit"}, {"code", 0}});
    test::run_to_end(io);  // returns at once: the timer does not keep the loop alive
    CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
    CHECK_FALSE(child->killed());
  }

  SUBCASE("the parent disconnects: the child exits, and close still fires (unlike Node)") {
    auto child = test::fork(io, helper("echo_async"));
    recorder seen(*child);
    child->send("hello");
    test::run_until(io, [&] { return seen.messages.size() == 1; });
    child->disconnect();
    CHECK_FALSE(child->connected());
    test::run_to_end(io);
    CHECK(seen.events == std::vector<std::string>{"spawn", "message", "disconnect", "exit 0", "close 0"});
  }

  SUBCASE("the parent disconnects at once: what it sent first still arrives") {
    auto child = test::fork(io, helper("echo_sync"));
    recorder seen(*child);
    child->send("first");
    child->disconnect();
    test::run_to_end(io);
    // The child got "first" (it echoed it, though that answer is dropped after disconnect()).
    CHECK(seen.events == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
  }

  SUBCASE("the child disconnects") {
    auto child = test::fork(io, helper("echo_async"));
    recorder seen(*child);
    child->send(1);
    child->send({{"do", "disconnect"}});
    test::run_to_end(io);
    CHECK(seen.events == std::vector<std::string>{"spawn", "message", "disconnect", "exit 0", "close 0"});
  }

  SUBCASE("a child that exits without a channel of its own") {
    auto child = test::fork(io, helper("exit_with"), {"3"});
    recorder seen(*child);
    test::run_to_end(io);
    CHECK(seen.events == std::vector<std::string>{"spawn", "disconnect", "exit 3", "close 3"});
  }

  SUBCASE("once-listeners run once, and listeners may take no arguments") {
    auto child = test::fork(io, helper("echo_async"));
    int once = 0, every = 0, closes = 0;
    child->once("message", [&](const json&) { ++once; });
    child->on("message", [&] { ++every; });
    child->on("close", [&] { ++closes; });
    child->send(1);
    child->send(2);
    child->send({{"do", "exit"}, {"code", 0}});
    test::run_to_end(io);
    CHECK(once == 1);
    CHECK(every == 3);
    CHECK(closes == 1);
  }
}

TEST_CASE("after close the listeners are released, so capturing the child does not leak it") {
  boost::asio::io_context io;
  std::weak_ptr<forkipc::child_process> weak;
  {
    auto child = test::fork(io, helper("echo_async"));
    weak = child;
    child->on("message", [child](const json&) { child->disconnect(); });
    child->send("ping");
  }
  test::run_to_end(io);
  CHECK(weak.expired());
}

TEST_CASE("send after disconnect fails with channel_closed") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"));
  recorder seen(*child);
  child->disconnect();
  std::optional<std::error_code> callback_error;
  CHECK_FALSE(child->send("late", [&](std::error_code ec) { callback_error = ec; }));
  CHECK_FALSE(child->send("later, and no callback"));
  test::run_to_end(io);
  REQUIRE(callback_error);
  CHECK(*callback_error == forkipc::errc::channel_closed);
  REQUIRE(seen.errors.size() == 1);  // the send without a callback
  CHECK(seen.errors[0].code() == forkipc::errc::channel_closed);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});

  std::optional<std::error_code> after_close;
  CHECK_FALSE(child->send("after close", [&](std::error_code ec) { after_close = ec; }));
  test::run_to_end(io);
  CHECK(after_close == forkipc::errc::channel_closed);
}

TEST_CASE("on_sent reports each message once it is written") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"));
  std::vector<int> written;
  for (int i = 0; i < 5; ++i)
    CHECK(child->send(i, [&, i](std::error_code ec) {
      CHECK_FALSE(ec);
      written.push_back(i);
    }));
  test::run_until(io, [&] { return written.size() == 5; });
  CHECK(written == std::vector<int>{0, 1, 2, 3, 4});
  child->disconnect();
  test::run_to_end(io);
}

TEST_CASE("send returns false above the high-water mark, and the message is still queued") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("sleeper"));  // never reads
  recorder seen(*child);
  const json chunk = std::string(16 * 1024, 'q');
  int sent = 0;
  while (child->send(chunk) && sent < 10'000) ++sent;
  CHECK(sent < 10'000);  // the socket's buffer and 128 KiB of queue filled up
  CHECK(child->connected());
  child->kill();
  test::run_to_end(io);
  // Killed with bytes queued: those are reported, once.
  REQUIRE(seen.errors.size() == 1);
  CHECK(seen.errors[0].code() == forkipc::errc::channel_closed);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit SIG15", "close SIG15"});
}

TEST_CASE("a message that cannot be encoded throws and sends nothing") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"));
  recorder seen(*child);
  CHECK_THROWS_AS(child->send(std::string("bad \xff utf-8")), forkipc::error);
  try {
    child->send(json{{"k", std::string("\xc3")}});
  } catch (const forkipc::error& e) {
    CHECK(e.code() == forkipc::errc::unencodable_message);
    CHECK(std::string(e.what()).find("UTF-8") != std::string::npos);
  }
  child->send("fine");
  test::run_until(io, [&] { return !seen.messages.empty(); });
  CHECK(seen.messages == std::vector<json>{"fine"});
  child->disconnect();
  test::run_to_end(io);
}

TEST_CASE("a raw peer's bad lines are reported, and the good lines between them arrive") {
  boost::asio::io_context io;
  constexpr std::size_t limit = 1u << 20;
  auto child = forkipc::fork(io, helper("raw_peer"), {std::to_string(2 * limit)},
                             {.max_message_size = limit});
  recorder seen(*child);
  test::run_until(io, [&] { return seen.messages.size() == 5 || seen.closed(); });
  const std::vector<json> expected{{{"n", 1}}, {{"n", 3}}, {{"n", 4}}, {{"cmd", "NODE_"}}, {{"n", 5}}};
  CHECK(seen.messages == expected);
  REQUIRE(seen.errors.size() == 4);
  CHECK(seen.errors[0].code() == forkipc::errc::malformed_message);
  CHECK(std::string(seen.errors[0].what()).find("{\\\"n\\\":2") != std::string::npos);
  CHECK(seen.errors[1].code() == forkipc::errc::malformed_message);
  CHECK(std::string(seen.errors[1].what()).find("empty line") != std::string::npos);
  CHECK(seen.errors[2].code() == forkipc::errc::message_too_large);
  CHECK(seen.errors[3].code() == forkipc::errc::malformed_message);
  CHECK(std::string(seen.errors[3].what()).find("UTF-8") != std::string::npos);
  // The errors came where the bad lines were: message, 2 errors, message, error, message, error...
  std::vector<std::string> order;
  for (const auto& e : seen.events)
    if (e == "message" || e.rfind("error", 0) == 0) order.push_back(e == "message" ? "m" : "e");
  CHECK(order == std::vector<std::string>{"m", "e", "e", "m", "e", "m", "e", "m", "m"});
  child->disconnect();
  test::run_to_end(io);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
}

TEST_CASE("a message cut off by the child's death is reported, not delivered") {
  boost::asio::io_context io;
  // A raw peer killed while it streams a 1 GiB line (under this limit) leaves part of it behind.
  auto child = forkipc::fork(io, helper("raw_peer"), {std::to_string(std::size_t{1} << 30)},
                             {.max_message_size = std::size_t{4} << 30});
  recorder seen(*child);
  test::run_until(io, [&] { return seen.messages.size() == 2; });
  child->kill(SIGKILL);
  test::run_to_end(io);
  REQUIRE_FALSE(seen.errors.empty());
  CHECK(seen.errors.back().code() == forkipc::errc::truncated_message);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit SIG9", "close SIG9"});
}

TEST_CASE("messages sent just before the child ends reach the parent (Node loses them)") {
  for (const char* how : {"return", "exit", "disconnect", "sync", "handler"}) {
    CAPTURE(how);
    boost::asio::io_context io;
    auto child = test::fork(io, helper("last_words"), {how});
    recorder seen(*child);
    test::run_to_end(io);
    REQUIRE(seen.messages.size() == 2);
    CHECK(seen.messages[0].get_ref<const std::string&>().size() == std::size_t{1} << 20);
    CHECK(seen.messages[1] == json{{"last", true}});
    CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
  }
}

TEST_CASE("a sync::parent child exits when the parent disconnects") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_sync"));
  recorder seen(*child);
  child->send("one");
  test::run_until(io, [&] { return seen.messages.size() == 1; });
  child->disconnect();
  test::run_to_end(io);
  CHECK(seen.events == std::vector<std::string>{"spawn", "message", "disconnect", "exit 0", "close 0"});
}

TEST_CASE("the child inherits exactly fds 0-3, and gets the channel variables") {
  // A descriptor without close-on-exec, which a plain fork+exec would leak into the child. It is
  // put above 10: with stdin closed (as CI may run us), open() would return 0, a legitimate stdin.
  const int opened = ::open("/dev/null", O_RDONLY);
  const int leaky = ::fcntl(opened, F_DUPFD, 10);
  ::close(opened);
  REQUIRE(leaky >= 10);
  std::set<int> expected{3};
  for (int fd : {0, 1, 2})  // the parent's own 0-2 may be closed
    if (::fcntl(fd, F_GETFD) >= 0) expected.insert(fd);
  boost::asio::io_context io;
  auto child = test::fork(io, helper("probe"));
  recorder seen(*child);
  test::run_until(io, [&] { return !seen.messages.empty(); });
  ::close(leaky);
  REQUIRE(seen.messages.size() == 1);
  const json report = seen.messages[0];
  CHECK(report["fds"].get<std::set<int>>() == expected);
  CHECK(report["env"]["NODE_CHANNEL_FD"] == "3");
  CHECK(report["env"]["NODE_CHANNEL_SERIALIZATION_MODE"] ==
        (test::transport_under_test() == forkipc::transport::shared_memory ? "forkipc-json-shm" : "json"));
  CHECK(report["env_after_take"]["NODE_CHANNEL_FD"] == false);  // taken, then removed
  child->disconnect();
  test::run_to_end(io);
}

TEST_CASE("the exit watch: a pidfd on the linux backend, SIGCHLD on the posix one and where pidfd_open answers ENOSYS") {
  // tests/meson.build runs this suite under a seccomp filter that makes pidfd_open fail with
  // ENOSYS, as on Linux before 5.3, and says so in FORKIPC_TEST_WITHOUT_PIDFD.
  const bool pidfd_expected = test::linux_backend && std::getenv("FORKIPC_TEST_WITHOUT_PIDFD") == nullptr;
  const auto pidfds = [] {
    int n = 0;
    for (const int fd : test::open_fds()) {
      std::error_code ec;
      if (std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec) == "anon_inode:[pidfd]") ++n;
    }
    return n;
  };
  const auto sigchld_handled = [] {
    struct sigaction current {};
    ::sigaction(SIGCHLD, nullptr, &current);
    return current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN;
  };
  boost::asio::io_context io;
  {
    auto child = test::fork(io, helper("echo_async"));
    recorder seen(*child);
    CHECK(pidfds() == (pidfd_expected ? 1 : 0));
    CHECK(sigchld_handled() == !pidfd_expected);  // Asio's handler, while a child is watched so
    child->send("one");
    test::run_until(io, [&] { return seen.messages.size() == 1; });
    child->kill(SIGTERM);
    test::run_to_end(io);
    CHECK(seen.events == std::vector<std::string>{"spawn", "message", "disconnect", "exit SIG15", "close SIG15"});
  }
  CHECK(pidfds() == 0);  // the child_process held it until it went
  CHECK(test::child_pids().empty());
}

TEST_CASE("args, cwd, env, exec_path and exec_args reach the child") {
  boost::asio::io_context io;
  const std::filesystem::path probe = helper("probe");

  SUBCASE("args and the inherited environment") {
    ::setenv("FORKIPC_TEST_INHERITED", "yes", 1);
    auto child = forkipc::fork(io, probe.string(), {"a b", "", "ü"});
    recorder seen(*child);
    test::run_until(io, [&] { return !seen.messages.empty(); });
    CHECK(seen.messages[0]["argv"] == json::array({probe.string(), "a b", "", "ü"}));
    CHECK(seen.messages[0]["env"]["FORKIPC_TEST_INHERITED"] == "yes");
    child->disconnect();
    test::run_to_end(io);
  }

  SUBCASE("cwd, and a module_path relative to it") {
    const auto dir = probe.parent_path();
    auto child = forkipc::fork(io, "./probe", {}, {.cwd = dir});
    recorder seen(*child);
    test::run_until(io, [&] { return !seen.messages.empty(); });
    CHECK(seen.messages[0]["cwd"] == std::filesystem::canonical(dir).string());
    child->disconnect();
    test::run_to_end(io);
  }

  SUBCASE("a whole environment: that and the channel variables, nothing else") {
    auto child = forkipc::fork(io, probe.string(), {},
                               {.env = std::map<std::string, std::string>{{"ONLY", "this"},
                                                                          {"NODE_CHANNEL_FD", "9"}}});
    recorder seen(*child);
    test::run_until(io, [&] { return !seen.messages.empty(); });
    CHECK(seen.messages[0]["env"] == json{{"ONLY", "this"}, {"NODE_CHANNEL_FD", "3"},
                                          {"NODE_CHANNEL_SERIALIZATION_MODE", "json"}});
    child->disconnect();
    test::run_to_end(io);
  }

  SUBCASE("exec_path and exec_args come first: exec_path exec_args module_path args") {
    auto child = forkipc::fork(io, "module.js", {"arg"},
                               {.exec_path = probe, .exec_args = {"--flag"}});
    recorder seen(*child);
    test::run_until(io, [&] { return !seen.messages.empty(); });
    CHECK(seen.messages[0]["argv"] == json::array({probe.string(), "--flag", "module.js", "arg"}));
    child->disconnect();
    test::run_to_end(io);
  }

  SUBCASE("an exec_path without a slash is looked up in the child's PATH") {
    auto child = forkipc::fork(io, "module.js", {},
                               {.env = std::map<std::string, std::string>{
                                    {"PATH", "/nonexistent:" + probe.parent_path().string()}},
                                .exec_path = "probe"});
    recorder seen(*child);
    test::run_until(io, [&] { return !seen.messages.empty(); });
    CHECK(seen.messages[0]["argv"] == json::array({"probe", "module.js"}));
    child->disconnect();
    test::run_to_end(io);
  }
}

TEST_CASE("silent: stdout and stderr arrive as events, stdin is empty once the parent ends it") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("chatty"), {}, {.silent = true});
  child->end_stdin();  // as Node's child.stdin.end(): the child reads to the end of its stdin
  recorder seen(*child);
  test::run_to_end(io);
  CHECK(seen.out == "to stdout\n");
  CHECK(seen.err == "to stderr\n");
  CHECK(seen.messages == std::vector<json>{{{"stdin_bytes", 0}}});
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
}

TEST_CASE("a program that cannot be started throws, naming it and why, and leaves nothing") {
  boost::asio::io_context io;
  const auto fds_before = test::open_fds();
  const auto expect_failure = [&](const std::string& program, forkipc::fork_options options,
                                  std::errc code, const std::string& named) {
    CAPTURE(program);
    try {
      forkipc::fork(io, program, {}, options);
      FAIL("fork did not throw");
    } catch (const forkipc::error& e) {
      CHECK(e.code() == code);
      CHECK_MESSAGE(std::string(e.what()).find(named) != std::string::npos, e.what());
    }
  };
  const auto dir = std::filesystem::temp_directory_path() / ("forkipc-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto not_executable = dir / "not-executable";
  std::ofstream(not_executable) << "#!/bin/sh\n";
  std::filesystem::permissions(not_executable, std::filesystem::perms::owner_read |
                                                   std::filesystem::perms::owner_write);

  expect_failure((dir / "missing").string(), {}, std::errc::no_such_file_or_directory,
                 (dir / "missing").string());
  expect_failure(not_executable.string(), {}, std::errc::permission_denied, not_executable.string());
  expect_failure(helper("probe"), {.cwd = dir / "no-such-dir"}, std::errc::no_such_file_or_directory,
                 (dir / "no-such-dir").string());
  expect_failure("x.js", {.exec_path = "forkipc-no-such-interpreter"},
                 std::errc::no_such_file_or_directory, "forkipc-no-such-interpreter");
  CHECK_THROWS_AS(test::fork(io, helper("probe"), {}, {.exec_args = {"--flag"}}),
                  std::invalid_argument);

  std::filesystem::remove_all(dir);
  CHECK(test::open_fds() == fds_before);
  CHECK(test::child_pids().empty());
  CHECK(test::run_to_end(io));  // nothing was left on the io_context either
}

TEST_CASE("500 fork/exit cycles leave no zombie and no descriptor behind") {
  boost::asio::io_context io;
  int closes = 0;
  const auto cycle = [&](int children) {
    for (int i = 0; i < children; ++i) {
      auto child = test::fork(io, helper("exit_with"), {std::to_string(i)});
      child->on("close", [&] { ++closes; });
    }
    test::run_to_end(io);
  };
  cycle(1);  // the io_context opens its epoll, eventfd and timerfd descriptors on first use
  const auto fds_before = test::open_fds();
  for (int round = 0; round < 50; ++round) cycle(10);
  CHECK(closes == 501);
  const auto fds_after = test::open_fds();
  CHECK_MESSAGE(fds_after == fds_before, fds_before.size() << " fds before, " << fds_after.size() << " after");
  CHECK(test::child_pids().empty());
}

TEST_CASE("destroying the io_context with children running leaves no process behind") {
  const auto fds_before = test::open_fds();
  {
    boost::asio::io_context io;
    auto listening = test::fork(io, helper("echo_async"));  // exits when its channel closes
    auto stubborn = test::fork(io, helper("sleeper"));      // needs SIGKILL
    io.run_for(100ms);
  }
  CHECK(test::child_pids().empty());
  CHECK(test::open_fds() == fds_before);
}

TEST_CASE("on and once reject unknown events and listeners of the wrong shape") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("exit_with"));
  try {
    child->on("mesage", [](const json&) {});
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    CHECK(what.find("\"mesage\"") != std::string::npos);
    for (const char* valid : {"spawn", "message", "disconnect", "exit", "close", "error", "stdout", "stderr"})
      CHECK(what.find(std::string("\"") + valid + "\"") != std::string::npos);
  }
  try {
    child->on("exit", [](const std::string&) {});
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("std::optional<int> code, std::optional<int> signal") !=
          std::string::npos);
  }
  CHECK_THROWS_AS(child->once("message", [](int, int) {}), std::invalid_argument);
  CHECK_THROWS_AS(child->on("close", [](const forkipc::error&) {}), std::invalid_argument);
  test::run_to_end(io);
}

TEST_CASE("a Node script is a child, with exec_path = \"node\"") {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, test::script("echo.js"), {}, {.exec_path = "node"});
  recorder seen(*child);
  const std::vector<json> values{nullptr, 42, -1.5, "中文 😀", json{{"a", json::array({1, true})}}};
  for (const json& v : values) child->send(v);
  child->send({{"exit", 3}});
  test::run_to_end(io);
  std::vector<json> expected = values;
  expected.push_back({{"bye", 3}});
  CHECK(seen.messages == expected);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 3", "close 3"});
}
