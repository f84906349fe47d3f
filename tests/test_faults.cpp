// Faults: whatever the peer or the system does, forkipc reports it and goes on, or ends cleanly;
// it never hangs, crashes, leaks or grows without bound. Each test names the fault it injects.
#include "support.hpp"

#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>

extern char** environ;

using forkipc::json;
using test::helper;
using test::recorder;
using namespace std::chrono_literals;

namespace {

using test::sanitized;

#ifdef __OPTIMIZE__
constexpr bool optimized = true;
#else
constexpr bool optimized = false;
#endif

// This process's resident memory, in bytes.
std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// How much this process's resident memory grew since before (0 if it shrank), read once: two
// reads can straddle a change and make an unsigned difference wrap.
std::size_t resident_growth_since(std::size_t before) {
  const std::size_t now = resident_bytes();
  return now > before ? now - before : 0;
}

// The value of a "Name:" line of /proc/self/status.
long status_field(const std::string& name) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(name + ":", 0) == 0) return std::stol(line.substr(name.size() + 1));
  return -1;
}

// How long until pid, an orphan that comes to this process (a subreaper), ends; nullopt if it
// runs on after timeout. Looks without reaping it (WNOWAIT): reap_orphan does that. No pidfd,
// so that the suites make none of Linux's own calls on the posix backend.
std::optional<std::chrono::milliseconds> time_to_end(pid_t pid, std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  const bool ended = test::eventually("the orphan ended", [&] {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
  }, timeout);
  if (!ended) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

// Makes this process the reaper of its orphaned descendants while it lives, so that a test can
// see how a grandchild ended once its parent is gone.
struct subreaper {
  subreaper() { REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0); }
  ~subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
};

// Reaps pid, an orphan that came to this process; returns how it ended.
std::string reap_orphan(pid_t pid) {
  siginfo_t info{};
  test::eventually("the orphan is reaped", [&] {
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG) == 0 && info.si_pid == pid;
  });
  if (info.si_code == CLD_EXITED) return test::describe_end(info.si_status, std::nullopt);
  return test::describe_end(std::nullopt, info.si_status);
}

// Starts the middle helper (a parent of `program`), returns it and its child's pid.
std::pair<std::shared_ptr<forkipc::child_process>, pid_t> start_middle(boost::asio::io_context& io,
                                                                       const std::string& program,
                                                                       const std::string& mode) {
  auto middle = test::fork(io, helper("middle"), {program, mode});
  std::optional<pid_t> grandchild;
  middle->on("message", [&](const json& m) { grandchild = m.at("pid").get<pid_t>(); });
  test::run_until(io, [&] { return grandchild.has_value(); });
  return {middle, grandchild.value_or(-1)};
}

}  // namespace

TEST_CASE("the child is SIGKILLed in the middle of a large message it sends: reported, closed, no hang") {
  SUBCASE("child_process") {
    boost::asio::io_context io;
    auto child = forkipc::fork(io, helper("raw_peer"), {std::to_string(std::size_t{1} << 30)},
                               {.max_message_size = std::size_t{2} << 30});
    recorder seen(*child);
    test::run_until(io, [&] { return seen.messages.size() == 2; });  // {"n":3}: the long line began
    child->kill(SIGKILL);
    test::run_to_end(io);
    REQUIRE_FALSE(seen.errors.empty());
    CHECK(seen.errors.back().code() == forkipc::errc::truncated_message);
    CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit SIG9", "close SIG9"});
  }
  SUBCASE("sync::child") {
    forkipc::sync::child child(helper("raw_peer"), {std::to_string(std::size_t{1} << 30)},
                               {.max_message_size = std::size_t{2} << 30});
    int messages = 0;
    std::vector<forkipc::errc> problems;
    const auto next = [&] {
      for (;;) {
        try {
          return child.receive(30s);
        } catch (const forkipc::error& e) {
          problems.push_back(static_cast<forkipc::errc>(e.code().value()));
        }
      }
    };
    while (messages < 2 && next()) ++messages;
    REQUIRE(messages == 2);
    child.kill(SIGKILL);
    CHECK_FALSE(next().has_value());  // the rest of what it wrote, then the end
    REQUIRE_FALSE(problems.empty());
    CHECK(problems.back() == forkipc::errc::truncated_message);
    CHECK(child.wait() == std::pair<std::optional<int>, std::optional<int>>{std::nullopt, SIGKILL});
  }
}

TEST_CASE("the child is SIGKILLed while a large message to it is being written: reported, closed, no hang") {
  const json big = std::string(std::size_t{64} << 20, 'b');
  SUBCASE("child_process: on_sent gets channel_closed") {
    boost::asio::io_context io;
    auto child = test::fork(io, helper("sleeper"));  // never reads: the message cannot be written whole
    recorder seen(*child);
    std::optional<std::error_code> sent;
    child->send(big, [&](std::error_code ec) { sent = ec; });
    child->kill(SIGKILL);
    test::run_to_end(io);
    CHECK(sent == forkipc::errc::channel_closed);
    CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit SIG9", "close SIG9"});
  }
  // sync::child's send, ended by a kill from another thread: test_threads.cpp.
}

// The shared-memory transport: a peer that stops in the middle of a frame it writes into the ring
// (tests/helpers/ring_peer.cpp wrote {"started": true}, then half a frame, and waits).
const forkipc::fork_options ring_peer_options{.serialization = forkipc::serialization::binary,
                                              .transport = forkipc::transport::shared_memory};

TEST_CASE("shared memory: the child is SIGKILLed in the middle of a frame in the ring: reported, closed, no hang") {
  SUBCASE("child_process") {
    boost::asio::io_context io;
    auto child = forkipc::fork(io, helper("ring_peer"), {}, ring_peer_options);
    recorder seen(*child);
    test::run_until(io, [&] { return !seen.messages.empty() || seen.closed(); });
    REQUIRE(seen.messages == std::vector<json>{{{"started", true}}});
    const auto killed = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point noticed;
    child->once("disconnect", [&] { noticed = std::chrono::steady_clock::now(); });
    child->kill(SIGKILL);
    test::run_to_end(io);
    // The socket beside the ring ends with the process: the reader is woken at once, not polled.
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(noticed - killed);
    CHECK_MESSAGE(took < 1s, "the end was noticed " << took.count() << " ms after the kill");
    MESSAGE("a SIGKILLed peer on shared memory was noticed after " << took.count() << " ms");
    REQUIRE_FALSE(seen.errors.empty());
    CHECK(seen.errors.back().code() == forkipc::errc::truncated_message);
    CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit SIG9", "close SIG9"});
  }
  SUBCASE("sync::child: a receive with a timeout returns, the kill ends the channel") {
    forkipc::sync::child child(helper("ring_peer"), {}, ring_peer_options);
    CHECK(child.receive(30s) == json{{"started", true}});
    CHECK_FALSE(child.receive(200ms).has_value());  // half a frame is not a message: the wait ends
    child.kill(SIGKILL);
    std::vector<forkipc::errc> problems;
    for (;;) {
      try {
        if (!child.receive(30s)) break;
      } catch (const forkipc::error& e) {
        problems.push_back(static_cast<forkipc::errc>(e.code().value()));
      }
    }
    CHECK(problems == std::vector<forkipc::errc>{forkipc::errc::truncated_message});
    CHECK(child.wait() == std::pair<std::optional<int>, std::optional<int>>{std::nullopt, SIGKILL});
  }
}

TEST_CASE("shared memory: a SIGSTOPped child in the middle of a frame does not hold up the loop's other children") {
  boost::asio::io_context io;
  auto stopped = forkipc::fork(io, helper("ring_peer"), {}, ring_peer_options);
  recorder stopped_seen(*stopped);
  test::run_until(io, [&] { return !stopped_seen.messages.empty() || stopped_seen.closed(); });
  REQUIRE(stopped_seen.messages.size() == 1);
  REQUIRE(::kill(stopped->pid(), SIGSTOP) == 0);

  auto echo = forkipc::fork(io, helper("echo_async"), {}, ring_peer_options);
  recorder echoed(*echo);
  constexpr int round_trips = 1000;
  int sent = 1;
  echo->on("message", [&](const json& m) {
    if (m == json(sent) && sent < round_trips) echo->send(++sent);
  });
  echo->send(sent);
  test::run_until(io, [&] { return echoed.messages.size() == round_trips || echoed.closed(); });
  CHECK(echoed.messages.size() == round_trips);
  CHECK(echoed.messages.back() == json(round_trips));
  CHECK(stopped_seen.messages.size() == 1);  // nothing more came from the stopped one
  CHECK(stopped_seen.errors.empty());

  echo->disconnect();
  stopped->kill(SIGKILL);  // delivered to a stopped process too
  test::run_to_end(io);
  CHECK(echoed.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
  CHECK(stopped_seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit SIG9", "close SIG9"});
}

// SIGKILLs a middle process that started program (mode as start_middle takes it), checks that
// its orphaned child ends within a second, and returns how it ended ("0", "SIG9").
std::string orphan_end_after_parent_killed(const std::string& program, const char* mode) {
  const subreaper reaper;
  boost::asio::io_context io;
  auto [middle, grandchild] = start_middle(io, program, mode);
  REQUIRE(grandchild > 0);
  middle->kill(SIGKILL);
  const auto took = time_to_end(grandchild, 30s);
  REQUIRE(took.has_value());
  CHECK_MESSAGE(*took < 1s, "the child ended " << took->count() << " ms after its parent");
  const std::string end = reap_orphan(grandchild);
  test::run_to_end(io);
  return end;
}

TEST_CASE("the parent is SIGKILLed: its sync::parent child sees the disconnect and exits within a second") {
  // It exits normally: it saw the end of its channel.
  CHECK(orphan_end_after_parent_killed(helper("echo_sync"), "plain") == "0");
}

// On the linux backend: the posix one refuses the option (below).
TEST_CASE("kill_on_parent_exit: the child is SIGKILLed when its parent dies" * doctest::skip(!test::linux_backend)) {
  // sleeper ignores its channel: without the option it would run on for ever.
  CHECK(orphan_end_after_parent_killed(helper("sleeper"), "kill_on_parent_exit") == "SIG9");
}

TEST_CASE("kill_on_parent_exit: a parent that died before the death signal was set is seen too" *
          doctest::skip(!test::linux_backend)) {
  // The helper is told to expect a parent it does not have, as if its own had died (and it had
  // been reparented) before its prctl: it must kill itself instead of running the program.
  const std::string marker = std::filesystem::temp_directory_path() / ("forkipc-ran-" + std::to_string(::getpid()));
  const std::string helper_path = FORKIPC_EXEC_HELPER_DIR "/forkipc-exec";
  const std::string script = ": > " + marker;
  const char* argv[] = {helper_path.c_str(), "parent=1", "--", "/bin/sh", "sh", "-c", script.c_str(), nullptr};
  pid_t pid = -1;
  REQUIRE(::posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char* const*>(argv), environ) == 0);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  CHECK_FALSE(std::filesystem::exists(marker));
  std::filesystem::remove(marker);
}

TEST_CASE("kill_on_parent_exit: refused with not_supported where the backend has no such thing" *
          doctest::skip(test::linux_backend)) {
  boost::asio::io_context io;
  const auto fds_before = test::open_fds();
  for (const bool sync : {false, true}) {
    try {
      if (sync) {
        forkipc::sync::child child(helper("probe"), {}, {.kill_on_parent_exit = true});
      } else {
        forkipc::fork(io, helper("probe"), {}, {.kill_on_parent_exit = true});
      }
      FAIL("fork did not throw");
    } catch (const forkipc::error& e) {
      CHECK(e.code() == std::errc::not_supported);
      CHECK_MESSAGE(std::string(e.what()).find("kill_on_parent_exit") != std::string::npos, e.what());
    }
  }
  CHECK(test::open_fds() == fds_before);
  CHECK(test::child_pids().empty());
}

TEST_CASE("kill_on_parent_exit: the child starts as any other, and a failure is reported the same way" *
          doctest::skip(!test::linux_backend)) {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("probe"), {"x"}, {.kill_on_parent_exit = true});
  recorder seen(*child);
  test::run_until(io, [&] { return !seen.messages.empty(); });
  REQUIRE(seen.messages.size() == 1);
  std::set<int> fds;
  for (int fd : seen.messages[0]["fds"]) fds.insert(fd);
  CHECK(fds.count(3) == 1);
  CHECK(*fds.rbegin() == 3);  // the helper's error pipe, fd 4, did not reach the program
  CHECK(seen.messages[0]["argv"] == json{helper("probe"), "x"});
  child->disconnect();
  test::run_to_end(io);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});

  const auto fds_before = test::open_fds();
  try {
    forkipc::fork(io, "/nonexistent/program", {}, {.kill_on_parent_exit = true});
    FAIL("fork did not throw");
  } catch (const forkipc::error& e) {
    CHECK(e.code() == std::errc::no_such_file_or_directory);
    CHECK(std::string(e.what()).find("/nonexistent/program") != std::string::npos);
  }
  CHECK(test::open_fds() == fds_before);
  CHECK(test::child_pids().empty());
}

TEST_CASE("signals arriving all the time interrupt no blocking receive or send (EINTR)") {
  // Both sides under a storm of SIGALRM whose handler is installed without SA_RESTART: this
  // process every 100 microseconds, the child every 200.
  static std::atomic<long> interrupts{0};
  struct sigaction action{}, previous{};
  action.sa_handler = [](int) { interrupts.fetch_add(1, std::memory_order_relaxed); };
  ::sigaction(SIGALRM, &action, &previous);
  const itimerval every{{0, 100}, {0, 100}};
  ::setitimer(ITIMER_REAL, &every, nullptr);

  {
    test::sync_child child(helper("interrupted_echo"));
    const json big = std::string(std::size_t{8} << 20, 'e');  // many blocking writes and reads
    for (int i = 0; i < 200; ++i) {
      const json message = i % 50 == 0 ? big : json{{"i", i}};
      child.send(message);
      const auto back = child.receive(30s);
      REQUIRE(back.has_value());
      CHECK(*back == message);
    }
    child.send("interrupts?");
    const auto child_interrupts = child.receive(30s);
    REQUIRE(child_interrupts.has_value());
    CHECK(child_interrupts->get<long>() > 0);
    child.disconnect();
    CHECK(child.wait() == std::pair<std::optional<int>, std::optional<int>>{0, std::nullopt});
  }
  {
    boost::asio::io_context io;
    auto child = test::fork(io, helper("interrupted_echo"));
    recorder seen(*child);
    for (int i = 0; i < 1000; ++i) child->send({{"i", i}});
    test::run_until(io, [&] { return seen.messages.size() == 1000 || seen.closed(); });
    CHECK(seen.messages.size() == 1000);
    CHECK(seen.errors.empty());
    child->disconnect();
    test::run_to_end(io);
    CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
  }

  const itimerval stop{};
  ::setitimer(ITIMER_REAL, &stop, nullptr);
  ::sigaction(SIGALRM, &previous, nullptr);
  CHECK(interrupts.load() > 100);
}

TEST_CASE("descriptors exhausted: fork throws a clear error and leaves nothing behind") {
  boost::asio::io_context io;
  auto warm_up = test::fork(io, helper("exit_with"));  // the io_context's own descriptors
  test::run_to_end(io);
  const auto fds_before = test::open_fds();
  rlimit original{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &original) == 0);
  // From no descriptor at all, one more each round, until fork succeeds: every step of it
  // (the socketpair, the descriptors moved above 10, the output pipes, the pidfd or the helper's
  // pipe) fails once.
  const rlim_t highest = static_cast<rlim_t>(*std::max_element(fds_before.begin(), fds_before.end()));
  int failures = 0;
  bool started = false;
  for (rlim_t limit = 0; !started && limit < highest + 64; ++limit) {
    CAPTURE(limit);
    rlimit lowered = original;
    lowered.rlim_cur = limit;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
    try {
      auto child = test::fork(io, helper("exit_with"), {}, {.silent = true});
      started = true;
      ::setrlimit(RLIMIT_NOFILE, &original);
      recorder seen(*child);
      test::run_to_end(io);
      CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
    } catch (const forkipc::error& e) {
      ::setrlimit(RLIMIT_NOFILE, &original);
      ++failures;
      CHECK_MESSAGE(e.code() == std::errc::too_many_files_open, e.what());
      const std::string what = e.what();
      CHECK_MESSAGE(what.find("cannot") != std::string::npos, what);
      CHECK_MESSAGE(what.find("Too many open files") != std::string::npos, what);
    }
    CHECK(test::open_fds() == fds_before);
    CHECK(test::child_pids().empty());
  }
  ::setrlimit(RLIMIT_NOFILE, &original);
  CHECK(started);
  CHECK(failures > 3);
  CHECK(test::run_to_end(io));
}

TEST_CASE("a peer that never reads: send() says so at the high-water mark, refuses past max_queued_bytes, memory stays bounded") {
  boost::asio::io_context io;
  constexpr std::size_t cap = std::size_t{8} << 20;
  auto child = test::fork(io, helper("sleeper"), {}, {.max_queued_bytes = cap});
  recorder seen(*child);
  const json chunk = std::string(64 * 1024, 'q');
  const std::size_t before = resident_bytes();
  constexpr int offered = 4096;  // 256 MiB, 32 times the cap
  int true_returns = 0;
  std::vector<std::error_code> outcomes(offered);
  for (int i = 0; i < offered; ++i)
    if (child->send(chunk, [&outcomes, i](std::error_code ec) { outcomes[i] = ec; })) ++true_returns;
  const auto refused = [&] {
    return std::count(outcomes.begin(), outcomes.end(), forkipc::errc::send_queue_full);
  };
  test::run_until(io, [&] { return refused() > 0; });
  io.poll();  // the other refusals, posted at once too
  const std::size_t line = chunk.get_ref<const std::string&>().size() + 3;  // quotes and newline
  const std::size_t accepted = static_cast<std::size_t>(offered - refused()) * line;
  const std::size_t growth = resident_growth_since(before);
  // Before the queue starts, the transport holds some: the socket's buffer, or the ring (1 MiB).
  const std::size_t ring = test::transport_under_test() == forkipc::transport::shared_memory ? std::size_t{1} << 20 : 0;
  CHECK(true_returns < 10 + static_cast<int>(ring / line));  // false from 128 KiB of queue on
  // Nothing refused before the cap, everything after it: what was taken is the cap, the one
  // message that crossed it, and what the transport holds.
  CHECK(accepted >= cap);
  CHECK(accepted < cap + (std::size_t{1} << 20) + ring);
  CHECK_MESSAGE(growth < (std::size_t{64} << 20), "grew by " << growth << " bytes");

  // Without on_sent, the refusal is an "error" event that says why.
  CHECK_FALSE(child->send(chunk));
  test::run_until(io, [&] { return !seen.errors.empty(); });
  REQUIRE(seen.errors.size() == 1);
  CHECK(seen.errors[0].code() == forkipc::errc::send_queue_full);
  CHECK(std::string(seen.errors[0].what()).find("max_queued_bytes") != std::string::npos);
  child->kill(SIGKILL);
  test::run_to_end(io);
  CHECK(forkipc::fork_options{}.max_queued_bytes == std::size_t{1} << 30);  // bounded by default too
}

TEST_CASE("10,000 fork/exit cycles: no growth in descriptors, memory, threads or processes") {
  // 1,000 under the sanitizers, whose process start-up is ten times slower and whose allocators
  // keep freed memory in quarantine (LeakSanitizer checks the memory there instead); 2,000 in an
  // unoptimized build (CI's clang/posix build at -O0), where a cycle costs six times as much: a
  // descriptor or process kept per cycle shows as surely, and the optimized build runs all 10,000.
  const int cycles = sanitized ? 1'000 : optimized ? 10'000 : 2'000;
  boost::asio::io_context io;
  int closes = 0;
  const auto run = [&](int count) {
    for (int i = 0; i < count; i += 10) {
      for (int k = 0; k < 10; ++k) {
        auto child = test::fork(io, helper("exit_with"), {std::to_string(k)});
        child->on("close", [&] { ++closes; });
      }
      test::run_to_end(io);
    }
  };
  run(100);  // warm up: the io_context's descriptors, the allocator's pools
  const auto fds_before = test::open_fds();
  const std::size_t memory_before = resident_bytes();
  const long threads_before = status_field("Threads");
  run(cycles);
  CHECK(closes == cycles + 100);
  CHECK(test::open_fds() == fds_before);
  CHECK(test::child_pids().empty());
  CHECK(status_field("Threads") == threads_before);
  const std::size_t growth = resident_growth_since(memory_before);
  if (!sanitized) CHECK_MESSAGE(growth < (std::size_t{4} << 20), "grew by " << growth << " bytes");
}

TEST_CASE("NODE_CHANNEL_FD that is not a connected Unix stream socket is a clear error") {
  const auto take = [](const std::string& what) {
    const std::string command = helper("take_channel") + " " + what;
    FILE* out = ::popen(command.c_str(), "r");
    REQUIRE(out != nullptr);
    std::string text;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, out) != nullptr) text += buffer;
    CHECK(::pclose(out) == 0);
    return json::parse(text);
  };
  const auto expect = [&](const std::string& what, std::errc code, const std::string& says) {
    CAPTURE(what);
    const json result = take(what);
    CHECK(result.value("category", "") == std::string("generic"));
    CHECK(result.value("code", 0) == static_cast<int>(code));
    CHECK_MESSAGE(result.value("what", "").find(says) != std::string::npos, result.dump());
  };
  expect("text", std::errc::bad_file_descriptor, "is not a descriptor number");
  expect("negative", std::errc::bad_file_descriptor, "is not a descriptor number");
  expect("huge", std::errc::bad_file_descriptor, "is not a descriptor number");
  expect("closed", std::errc::bad_file_descriptor, "is not an open descriptor");
  expect("file", std::errc::not_a_socket, "is not a socket");
  expect("pipe", std::errc::not_a_socket, "is not a socket");
  expect("dgram", std::errc::wrong_protocol_type, "is not a Unix stream socket");
  expect("inet", std::errc::wrong_protocol_type, "is not a Unix stream socket");
  expect("listening", std::errc::not_connected, "not connected");
  CHECK(take("good") == json{{"taken", true}});
}
