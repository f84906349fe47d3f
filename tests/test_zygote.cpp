// forkipc::zygote: children forked from a started program, and fork_options::limits, against
// real children (tests/helpers/zygote_worker.cpp).
#include "support.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>

using forkipc::json;
using test::helper;
using test::recorder;
using namespace std::chrono_literals;

namespace {

// A file for the worker's start-ups, removed with the test.
struct startups_file {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("forkipc-zygote-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
                         .string();
  ~startups_file() { std::filesystem::remove(path); }
  static inline int counter = 0;
};

// Sends request to child and returns its answer (the next message).
json ask(boost::asio::io_context& io, forkipc::child_process& child, recorder& seen, const json& request) {
  const std::size_t before = seen.messages.size();
  child.send(request);
  REQUIRE(test::run_until(io, [&] { return seen.messages.size() > before || seen.closed(); }));
  REQUIRE(seen.messages.size() > before);
  return seen.messages[before];
}

// zygote_worker children with the same options, spawned or, where the backend has zygotes,
// forked by one.
class children_of {
 public:
  children_of(boost::asio::io_context& io, std::vector<std::string> args, forkipc::fork_options options)
      : io_(io), args_(std::move(args)), options_(std::move(options)) {
    if (test::linux_backend) zygote_.emplace(io, helper("zygote_worker"), args_, options_);
  }
  std::vector<bool> kinds() const { return zygote_ ? std::vector<bool>{false, true} : std::vector<bool>{false}; }
  std::shared_ptr<forkipc::child_process> start(bool from_zygote) {
    return from_zygote ? zygote_->fork() : forkipc::fork(io_, helper("zygote_worker"), args_, options_);
  }

 private:
  boost::asio::io_context& io_;
  std::vector<std::string> args_;
  forkipc::fork_options options_;
  std::optional<forkipc::zygote> zygote_;
};

}  // namespace

TEST_CASE("zygote: each child returns from the first call with its own channel; the start-up ran once" *
          doctest::skip(!test::linux_backend)) {
  for (const std::string entry : {"sync", "async"}) {
    CAPTURE(entry);
    startups_file startups;
    boost::asio::io_context io;
    forkipc::zygote zygote(io, helper("zygote_worker"), {startups.path, entry}, test::on_test_transport({}));
    std::set<json> pids;
    for (int i = 0; i < 3; ++i) {
      auto child = zygote.fork();
      recorder seen(*child);
      const json pid = ask(io, *child, seen, {{"op", "pid"}});
      CHECK(pid == child->pid());
      CHECK(ask(io, *child, seen, {{"op", "ppid"}}) == ::getpid());  // this process's child
      CHECK(ask(io, *child, seen, {{"op", "startups"}}) == 1);      // the zygote's, once
      pids.insert(pid);
      child->disconnect();
      test::run_until(io, [&] { return seen.closed(); });
      CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
    }
    CHECK(pids.size() == 3);
    CHECK(test::running(zygote.pid()));
  }
}

TEST_CASE("zygote: children speak the serialization asked for, large binary values included" *
          doctest::skip(!test::linux_backend)) {
  for (const auto mode : {forkipc::serialization::binary, forkipc::serialization::advanced}) {
    CAPTURE(static_cast<int>(mode));
    startups_file startups;
    boost::asio::io_context io;
    forkipc::zygote zygote(io, helper("zygote_worker"), {startups.path, "async"},
                           test::on_test_transport({.serialization = mode}));
    auto child = zygote.fork();
    recorder seen(*child);
    json::binary_t large(std::vector<std::uint8_t>(std::size_t{3} << 20));
    for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<std::uint8_t>(i * 7);
    const json value = {{"large", json::binary(large)}, {"pi", 3.25}, {"text", "déjà"}};
    CHECK(ask(io, *child, seen, {{"op", "echo"}, {"value", value}}) == value);
    child->disconnect();
    test::run_until(io, [&] { return seen.closed(); });
    CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
  }
}

TEST_CASE("zygote: children end as spawned ones do, each event exactly once" *
          doctest::skip(!test::linux_backend)) {
  startups_file startups;
  boost::asio::io_context io;
  forkipc::zygote zygote(io, helper("zygote_worker"), {startups.path, "sync"}, test::on_test_transport({.timeout = 2s}));
  const auto end_of = [&](const std::function<void(forkipc::child_process&)>& ending) {
    auto child = zygote.fork();
    recorder seen(*child);
    ask(io, *child, seen, {{"op", "pid"}});  // it runs
    ending(*child);
    REQUIRE(test::run_until(io, [&] { return seen.closed(); }, 60s));
    return seen.lifecycle();
  };
  CHECK(end_of([](auto& c) { c.send({{"op", "exit"}, {"code", 3}}); }) ==
        std::vector<std::string>{"spawn", "disconnect", "exit 3", "close 3"});
  CHECK(end_of([](auto& c) { c.send({{"op", "crash"}}); }) ==
        std::vector<std::string>{"spawn", "disconnect", "exit SIG11", "close SIG11"});
  CHECK(end_of([](auto& c) { c.kill(SIGKILL); }) ==
        std::vector<std::string>{"spawn", "disconnect", "exit SIG9", "close SIG9"});
  // The timeout (2 s) sends kill_signal (SIGTERM) to a child that sleeps.
  CHECK(end_of([](auto& c) { c.send({{"op", "sleep"}}); }) ==
        std::vector<std::string>{"spawn", "disconnect", "exit SIG15", "close SIG15"});
}

TEST_CASE("zygote: hundreds of children leave no descriptor and no zombie" *
          doctest::skip(!test::linux_backend)) {
  startups_file startups;
  boost::asio::io_context io;
  forkipc::zygote zygote(io, helper("zygote_worker"), {startups.path, "sync"}, test::on_test_transport({}));
  zygote.fork()->send({{"op", "exit"}, {"code", 0}});  // the io_context's own descriptors exist from here
  test::run_to_end(io);
  const auto fds_before = test::open_fds();
  for (int i = 0; i < 300; ++i) {
    auto child = zygote.fork();
    child->send({{"op", "exit"}, {"code", 0}});
  }
  test::run_to_end(io, 120s);
  CHECK(test::open_fds() == fds_before);
  // The zygote, and the spare it forks ahead for the next fork() (once it has answered the last):
  // no zombie.
  test::eventually("the zygote and its spare", [] { return test::child_pids().size() == 2; });
  const auto children = test::child_pids();
  CHECK(std::find(children.begin(), children.end(), zygote.pid()) != children.end());
  for (const int pid : children) CHECK_FALSE(test::zombie(pid));
}

TEST_CASE("zygote: a child forked ahead and killed before its fork() is reaped, and the next one serves" *
          doctest::skip(!test::linux_backend)) {
  startups_file startups;
  boost::asio::io_context io;
  forkipc::zygote zygote(io, helper("zygote_worker"), {startups.path, "sync"}, test::on_test_transport({}));
  zygote.fork()->send({{"op", "exit"}, {"code", 0}});
  test::run_to_end(io);
  // The zygote's spare: its other child, once it has forked it.
  test::eventually("the zygote and its spare", [] { return test::child_pids().size() == 2; });
  pid_t spare = 0;
  for (const int pid : test::child_pids())
    if (pid != zygote.pid()) spare = pid;
  REQUIRE(::kill(spare, SIGKILL) == 0);

  auto child = zygote.fork();
  CHECK(child->pid() != spare);
  recorder seen(*child);
  CHECK(ask(io, *child, seen, {{"op", "startups"}}) == 1);
  child->send({{"op", "exit"}, {"code", 0}});
  test::run_to_end(io);
  CHECK(seen.lifecycle().back() == "close 0");
  // The killed spare reaped, a new one forked ahead: the zygote and it, no zombie.
  test::eventually("the zygote and a living spare", [&] {
    const auto children = test::child_pids();
    return children.size() == 2 && std::find(children.begin(), children.end(), spare) == children.end() &&
           std::none_of(children.begin(), children.end(), [](int pid) { return test::zombie(pid); });
  });
}

TEST_CASE("zygote: a zygote killed as it forks leaves no child of this process behind, zombie or not" *
          doctest::skip(!test::linux_backend)) {
  // The second fork() asks the zygote (idle by then) for the next spare as it returns; killed at
  // moments spread over that fork (0-950 us later), the zygote dies now and then between forking
  // the spare and announcing it, when only the spare can tell its parent, this process, of
  // itself (which it does as its link ends): without that, a zombie was left in most runs of
  // the 60 rounds. Odd rounds call fork() again, which serves with the spare announced before
  // the kill, or throws channel_closed; even rounds only destroy the zygote.
  startups_file startups;
  for (int round = 0; round < 60; ++round) {
    INFO("round " << round);
    boost::asio::io_context io;
    {
      forkipc::zygote zygote(io, helper("zygote_worker"), {startups.path, "sync"}, test::on_test_transport({}));
      zygote.fork()->send({{"op", "exit"}, {"code", 0}});
      test::run_to_end(io);
      zygote.fork()->send({{"op", "exit"}, {"code", 0}});
      // A moment chosen, not an event awaited: nothing in this process sees the fork happen.
      const auto kill_at = std::chrono::steady_clock::now() + std::chrono::microseconds(50 * (round % 20));
      while (std::chrono::steady_clock::now() < kill_at) {
      }
      REQUIRE(::kill(zygote.pid(), SIGKILL) == 0);
      if (round % 2 == 1) {
        try {
          zygote.fork()->send({{"op", "exit"}, {"code", 0}});
        } catch (const forkipc::error& e) {
          CHECK(e.code() == forkipc::errc::channel_closed);
        }
      }
      test::run_to_end(io);
    }
    REQUIRE(test::child_pids().empty());
  }
}

TEST_CASE("zygote: a zygote whose channel a process of its start-up holds open is still seen to end" *
          doctest::skip(!test::linux_backend)) {
  // The holder, forked before the program became a zygote, keeps the zygote's end of its
  // channel: the zygote's end shows as its exit, not as the channel's.
  startups_file startups;
  boost::asio::io_context io;
  forkipc::zygote zygote(io, helper("zygote_worker"), {startups.path, "holder"}, test::on_test_transport({}));
  zygote.fork()->send({{"op", "exit"}, {"code", 0}});
  test::run_to_end(io);
  int holder = 0;
  std::ifstream(startups.path + ".holder") >> holder;
  REQUIRE(holder > 0);
  struct end_at_exit {
    int pid;
    std::string file;
    ~end_at_exit() {
      ::kill(pid, SIGKILL);
      std::filesystem::remove(file);
    }
  } holder_ends{holder, startups.path + ".holder"};

  test::eventually("the zygote's spare", [&] { return test::child_pids().size() == 2; });
  REQUIRE(::kill(zygote.pid(), SIGKILL) == 0);
  // The spare forked ahead serves one more child; then the zygote is seen to have ended, within
  // zygote_link's 5 s for a last answer rather than its 30 s for an answer at all.
  zygote.fork()->send({{"op", "exit"}, {"code", 0}});
  test::run_to_end(io);
  const auto asked = std::chrono::steady_clock::now();
  try {
    zygote.fork();
    FAIL("fork() from an ended zygote returned");
  } catch (const forkipc::error& e) {
    CHECK(e.code() == forkipc::errc::channel_closed);
  }
  CHECK(std::chrono::steady_clock::now() - asked < 20s);
}

TEST_CASE("zygote: the zygote ends with its owner, and does not keep io.run() from returning; its children go on" *
          doctest::skip(!test::linux_backend)) {
  startups_file startups;
  boost::asio::io_context io;
  std::shared_ptr<forkipc::child_process> child;
  pid_t zygote_pid = 0;
  {
    forkipc::zygote zygote(io, helper("zygote_worker"), {startups.path, "sync"}, test::on_test_transport({}));
    zygote_pid = zygote.pid();
    child = zygote.fork();
  }
  CHECK_FALSE(test::running(zygote_pid));  // ended, and reaped by its destructor
  CHECK(test::child_pids() == std::vector<int>{child->pid()});  // the zygote's spare is gone too
  recorder seen(*child);
  CHECK(ask(io, *child, seen, {{"op", "startups"}}) == 1);
  child->disconnect();
  test::run_to_end(io);  // returns: only the child held the loop
  CHECK(seen.lifecycle().back() == "close 0");
}

TEST_CASE("zygote: a SIGKILLed owner takes its zygote along" *
          doctest::skip(!test::linux_backend)) {
  startups_file startups;
  test::sync_child owner(helper("zygote_owner"), {helper("zygote_worker"), startups.path, "sync"});
  const auto pids = owner.receive(30s);
  REQUIRE(pids);
  const pid_t zygote_pid = pids->at("zygote"), child_pid = pids->at("child");
  CHECK(test::running(zygote_pid));
  owner.kill(SIGKILL);
  owner.wait();
  // The zygote sees its channel end and exits; the child too (its channel was the owner's).
  CHECK(test::eventually("the zygote ended", [&] { return !test::running(zygote_pid); }));
  CHECK(test::eventually("the zygote's child ended", [&] { return !test::running(child_pid); }));
}

TEST_CASE("zygote: a program with more than one thread at its first call is refused clearly" *
          doctest::skip(!test::linux_backend)) {
  startups_file startups;
  boost::asio::io_context io;
  forkipc::zygote zygote(io, helper("zygote_worker"), {startups.path, "thread"});
  try {
    zygote.fork();
    FAIL("a zygote with two threads forked");
  } catch (const forkipc::error& e) {
    CHECK(e.code() == std::errc::resource_unavailable_try_again);
    CHECK(std::string(e.what()).find("2 threads") != std::string::npos);
  }
}

TEST_CASE("zygote: a program built with a forkipc of another zygote protocol is refused, and its spare reaped" *
          doctest::skip(!test::linux_backend)) {
  boost::asio::io_context io;
  const std::size_t children_before = test::child_pids().size();
  {
    forkipc::zygote zygote(io, helper("version_0_zygote"));
    try {
      zygote.fork();
      FAIL("a zygote of another protocol version forked");
    } catch (const forkipc::error& e) {
      CHECK(e.code() == std::errc::protocol_not_supported);
      CHECK_MESSAGE(std::string(e.what()).find("version 0 of forkipc's zygote protocol") != std::string::npos, e.what());
    }
    // The spare it announced, a child of this process, was killed and reaped: the zygote is left.
    CHECK(test::child_pids().size() == children_before + 1);
  }
  CHECK(test::child_pids().size() == children_before);
}

TEST_CASE("zygote: siblings share what the start-up initialised, a random generator's state too" *
          doctest::skip(!test::linux_backend)) {
  startups_file startups;
  boost::asio::io_context io;
  forkipc::zygote zygote(io, helper("zygote_worker"), {startups.path, "sync"}, test::on_test_transport({}));
  std::vector<json> firsts;
  for (int i = 0; i < 2; ++i) {
    auto child = zygote.fork();
    recorder seen(*child);
    firsts.push_back(ask(io, *child, seen, {{"op", "random"}}));
    child->disconnect();
    REQUIRE(test::run_until(io, [&] { return seen.closed(); }));
  }
  CHECK(firsts[0] == firsts[1]);  // why docs/guide.md says to re-seed in the child
}

TEST_CASE("pool_options::zygote: workers, their replacements and recycled ones are forked by one zygote" *
          doctest::skip(!test::linux_backend)) {
  startups_file startups;
  boost::asio::io_context io;
  {
    forkipc::pool pool(io, helper("zygote_worker"), {startups.path, "serve"},
                       {.workers = 2, .max_requests_per_worker = 1, .zygote = true});
    const auto request = [&](const json& message) {
      std::optional<std::pair<std::error_code, json>> outcome;
      pool.async_request(message, [&](std::error_code ec, json reply) { outcome.emplace(ec, std::move(reply)); });
      REQUIRE(test::run_until(io, [&] { return outcome.has_value(); }));
      return *outcome;
    };
    std::set<int> workers;
    for (int i = 0; i < 20; ++i) {
      const auto [ec, pid] = request({{"op", "pid"}});
      REQUIRE_FALSE(ec);
      workers.insert(pid.get<int>());
    }
    CHECK(workers.size() == 20);  // recycled after each request, each replacement a fork
    CHECK(request({{"op", "ppid"}}).second == ::getpid());  // this process's children
    // A crashed worker is replaced by a fork too.
    CHECK(request({{"op", "crash"}}).first == forkipc::errc::worker_exited);
    for (int i = 0; i < 5; ++i) CHECK(request({{"op", "startups"}}) == std::pair{std::error_code(), json(1)});
    const auto stats = pool.stats();
    CHECK(stats.completed == 26);
    CHECK(stats.failed == 1);
    pool.close();
    test::run_to_end(io);
  }
  CHECK(test::child_pids().empty());  // the workers and the zygote are gone
}

// Not under AddressSanitizer, which reserves terabytes of address space at start-up.
TEST_CASE("limits: a child held to 256 MiB cannot allocate 1 GiB, allocates 16 MiB, and its parent sees it end" *
          doctest::skip(test::address_sanitized)) {
  const forkipc::fork_options limited{.limits = {.memory_bytes = std::size_t{256} << 20}};
  startups_file startups;
  boost::asio::io_context io;
  children_of both(io, {startups.path, "sync"}, limited);
  for (const bool from_zygote : both.kinds()) {
    CAPTURE(from_zygote);
    auto child = both.start(from_zygote);
    recorder seen(*child);
    CHECK(ask(io, *child, seen, {{"op", "alloc"}, {"mib", 16}}) == "ok");
    CHECK(ask(io, *child, seen, {{"op", "alloc"}, {"mib", 1024}}) == "bad_alloc");
    child->send({{"op", "exit"}, {"code", 7}});
    REQUIRE(test::run_until(io, [&] { return seen.closed(); }));
    CHECK(seen.lifecycle().back() == "close 7");
  }
}

TEST_CASE("limits: open files, processor time and no_new_privileges are set before the program runs") {
  // no_new_privileges is Linux's: the posix backend refuses it (below).
  const forkipc::fork_options options{.limits = {.cpu_time = std::chrono::seconds(600), .open_files = 64},
                                      .no_new_privileges = test::linux_backend};
  startups_file startups;
  boost::asio::io_context io;
  children_of both(io, {startups.path, "sync"}, options);
  for (const bool from_zygote : both.kinds()) {
    CAPTURE(from_zygote);
    auto child = both.start(from_zygote);
    recorder seen(*child);
    CHECK(ask(io, *child, seen, {{"op", "limits"}}) ==
          json{{"nofile", 64}, {"cpu", 600}, {"nnp", test::linux_backend ? 1 : 0}});
    child->disconnect();
    REQUIRE(test::run_until(io, [&] { return seen.closed(); }));
  }
  // The zygote itself is not held to its children's limits: its start-up may need more.
}

TEST_CASE("the posix backend refuses zygotes and no_new_privileges clearly, before anything starts" *
          doctest::skip(test::linux_backend)) {
  boost::asio::io_context io;
  const auto refused = [](const std::function<void()>& start, const std::string& names) {
    try {
      start();
      FAIL("started");
    } catch (const forkipc::error& e) {
      CHECK(e.code() == std::errc::not_supported);
      CHECK_MESSAGE(std::string(e.what()).find(names) != std::string::npos, e.what());
    }
  };
  refused([&] { forkipc::zygote zygote(io, helper("zygote_worker"), {"/dev/null", "sync"}); }, "zygote");
  refused([&] { forkipc::fork(io, helper("zygote_worker"), {"/dev/null", "sync"}, {.no_new_privileges = true}); },
          "no_new_privileges");
  refused([&] { forkipc::sync::child child(helper("zygote_worker"), {"/dev/null", "sync"}, {.no_new_privileges = true}); },
          "no_new_privileges");
}

TEST_CASE("limits: a child past its processor time ends with SIGXCPU, as the kernel ends it") {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, "/bin/sh", {"-c", "while :; do :; done"},
                             {.limits = {.cpu_time = std::chrono::seconds(1)}});
  recorder seen(*child);
  REQUIRE(test::run_until(io, [&] { return seen.closed(); }));
  CHECK(seen.lifecycle().back() == "close SIG" + std::to_string(SIGXCPU));
}

