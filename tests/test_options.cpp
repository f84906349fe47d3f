// fork_options' uid, gid and detached, and a silent child's stdin (issue 25), against real
// children (tests/helpers/credentials.cpp, stdin_echo.cpp), spawned and, where the backend has
// zygotes, from a zygote.
#include "support.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>

using forkipc::json;
using test::helper;
using test::recorder;
using namespace std::chrono_literals;

namespace {

constexpr unsigned nobody = 65534;

// Whether a user other than the owner can reach and run path: every folder on the way
// searchable, the file readable and executable by others.
bool reachable_by_others(const std::filesystem::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & (S_IROTH | S_IXOTH)) != (S_IROTH | S_IXOTH)) return false;
  for (std::filesystem::path dir = std::filesystem::absolute(path).parent_path();; dir = dir.parent_path()) {
    if (::stat(dir.c_str(), &st) != 0 || (st.st_mode & S_IXOTH) == 0) return false;
    if (dir == dir.root_path()) return true;
  }
}

// Why a test of another user cannot run here, or nothing: it needs root, and the programs (the
// helper, forkipc-exec, the library beside it) reachable by user 65534.
std::optional<std::string> cannot_change_user() {
  if (::geteuid() != 0) return "needs root, to start children as another user";
  const std::filesystem::path library_dir = FORKIPC_EXEC_HELPER_DIR;
  for (const std::filesystem::path& path :
       {std::filesystem::path(helper("credentials")), library_dir / "forkipc-exec", library_dir / "libforkipc.so"})
    if (!reachable_by_others(std::filesystem::canonical(path)))
      return path.string() + " is not reachable by other users (a folder on its way is not searchable by them)";
  return std::nullopt;
}

// Children of a helper with the same options, spawned and, on the linux backend, from a zygote.
class children_of {
 public:
  children_of(boost::asio::io_context& io, std::string program, std::vector<std::string> args,
              forkipc::fork_options options)
      : io_(io), program_(helper(program)), args_(std::move(args)), options_(std::move(options)) {
    if (test::linux_backend) zygote_.emplace(io, program_, args_, options_);
  }
  std::vector<bool> kinds() const { return zygote_ ? std::vector<bool>{false, true} : std::vector<bool>{false}; }
  std::shared_ptr<forkipc::child_process> start(bool from_zygote) {
    return from_zygote ? zygote_->fork() : forkipc::fork(io_, program_, args_, options_);
  }

 private:
  boost::asio::io_context& io_;
  std::string program_;
  std::vector<std::string> args_;
  forkipc::fork_options options_;
  std::optional<forkipc::zygote> zygote_;
};

// The first message of each kind of child started with options (args for the helper).
std::vector<json> reports(forkipc::fork_options options, std::vector<std::string> args = {}) {
  boost::asio::io_context io;
  children_of both(io, "credentials", std::move(args), std::move(options));
  std::vector<json> seen_reports;
  for (const bool from_zygote : both.kinds()) {
    CAPTURE(from_zygote);
    auto child = both.start(from_zygote);
    recorder seen(*child);
    REQUIRE(test::run_until(io, [&] { return !seen.messages.empty() || seen.closed(); }));
    REQUIRE(!seen.messages.empty());
    seen_reports.push_back(seen.messages.front());
    child->disconnect();
    REQUIRE(test::run_until(io, [&] { return seen.closed(); }));
    CHECK(seen.lifecycle().back() == "close 0");
  }
  return seen_reports;
}

}  // namespace

TEST_CASE("uid and gid: a child started as user and group 65534 runs as them, without root's groups") {
  if (const auto why = cannot_change_user()) {
    MESSAGE("skipped: " << *why);
    return;
  }
  for (const json& who : reports({.uid = nobody, .gid = nobody})) {
    CAPTURE(who);
    CHECK(who["uid"] == nobody);
    CHECK(who["euid"] == nobody);
    CHECK(who["gid"] == nobody);
    CHECK(who["egid"] == nobody);
    // Dropped, as libuv drops them: none of root's stays (group 0 would still open root's files).
    for (const json& group : who["groups"]) CHECK(group == nobody);
  }
}

TEST_CASE("uid alone: the child runs as that user, in the parent's group") {
  if (const auto why = cannot_change_user()) {
    MESSAGE("skipped: " << *why);
    return;
  }
  for (const json& who : reports({.uid = nobody})) {
    CAPTURE(who);
    CHECK(who["uid"] == nobody);
    CHECK(who["gid"] == ::getgid());
    CHECK(who["groups"].empty());
  }
}

TEST_CASE("uid and gid without privileges: fork() throws EPERM naming setuid or setgid") {
  if (const auto why = cannot_change_user()) {
    MESSAGE("skipped: " << *why);
    return;
  }
  // A child gives up root, then asks for user 0, and for group 0: its refusals come back.
  std::vector<std::string> args{"unprivileged"};
  if (test::linux_backend) args.push_back("zygote");
  forkipc::sync::child asker(helper("credentials"), args);
  const auto refusals = asker.receive(30s);
  REQUIRE(refusals);
  CAPTURE(*refusals);
  REQUIRE(refusals->size() == (test::linux_backend ? 4u : 2u));
  const std::size_t per_option = test::linux_backend ? 2 : 1;
  for (std::size_t i = 0; i < refusals->size(); ++i) {
    const json& refused = (*refusals)[i];
    CAPTURE(refused);
    REQUIRE(refused.is_object());
    CHECK(refused["code"] == EPERM);
    const std::string what = refused["what"];
    CHECK(what.find(i < per_option ? "setuid(0) failed in the child" : "setgid(0) failed in the child") !=
          std::string::npos);
    CHECK(what.find("needs root") != std::string::npos);
    CHECK(what.find("credentials") != std::string::npos);  // the program
  }
}

TEST_CASE("detached: the child leads a new session and process group; without it, it shares the parent's") {
  for (const json& who : reports({.detached = true})) {
    CAPTURE(who);
    CHECK(who["sid"] == who["pid"]);
    CHECK(who["pgid"] == who["pid"]);
    CHECK(who["sid"] != ::getsid(0));
    CHECK(who["pgid"] != ::getpgid(0));
  }
  for (const json& who : reports({})) {
    CAPTURE(who);
    CHECK(who["sid"] == ::getsid(0));
    CHECK(who["pgid"] == ::getpgid(0));
  }
}

TEST_CASE("detached with uid and gid: all three apply") {
  if (const auto why = cannot_change_user()) {
    MESSAGE("skipped: " << *why);
    return;
  }
  for (const json& who : reports({.uid = nobody, .gid = nobody, .detached = true})) {
    CAPTURE(who);
    CHECK(who["uid"] == nobody);
    CHECK(who["gid"] == nobody);
    CHECK(who["sid"] == who["pid"]);
  }
}

TEST_CASE("a silent child's stdin: 1 MiB written in pieces comes back on its stdout, in order, then its end") {
  std::string sent(1 << 20, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  boost::asio::io_context io;
  children_of both(io, "stdin_echo", {}, {.silent = true});
  for (const bool from_zygote : both.kinds()) {
    CAPTURE(from_zygote);
    auto child = both.start(from_zygote);
    recorder seen(*child);
    std::size_t taken = 0, callbacks = 0;
    bool refused_once = false;
    for (std::size_t at = 0; at < sent.size(); at += 100 * 1000) {
      const std::string_view piece = std::string_view(sent).substr(at, 100 * 1000);
      const bool below_high_water = child->write_stdin(piece, [&, size = piece.size()](std::error_code ec) {
        CHECK(!ec);
        taken += size;
        ++callbacks;
      });
      refused_once = refused_once || !below_high_water;
    }
    CHECK(refused_once);  // 1 MiB at once is more than a socket takes before the child reads
    child->end_stdin();
    REQUIRE(test::run_until(io, [&] { return !seen.messages.empty() || seen.closed(); }));
    REQUIRE(!seen.messages.empty());
    CHECK(seen.messages.front() == json{{"stdin_bytes", sent.size()}});  // it read to the end
    CHECK(taken == sent.size());
    CHECK(callbacks == 11);
    child->disconnect();
    REQUIRE(test::run_until(io, [&] { return seen.closed(); }));
    CHECK(seen.out == sent);
    CHECK(seen.errors.empty());
    CHECK(seen.lifecycle().back() == "close 0");
  }
}

TEST_CASE("a silent child's stdin: a write its child never reads completes with broken_pipe once it ended") {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, helper("exit_with"), {"0"}, {.silent = true});
  recorder seen(*child);
  REQUIRE(test::run_until(io, [&] { return seen.closed(); }));
  std::optional<std::error_code> result;
  child->write_stdin("nobody reads this", [&](std::error_code ec) { result = ec; });
  REQUIRE(test::run_until(io, [&] { return result.has_value(); }));
  CHECK(*result == std::errc::broken_pipe);
}

TEST_CASE("write_stdin and end_stdin: a child that is not silent has no stdin of ours; none after end_stdin") {
  boost::asio::io_context io;
  auto shared = forkipc::fork(io, helper("stdin_echo"), {}, {});
  CHECK_THROWS_WITH_AS(shared->write_stdin("x"), doctest::Contains("fork it with fork_options::silent"),
                       std::logic_error);
  CHECK_THROWS_AS(shared->end_stdin(), std::logic_error);
  shared->kill(SIGKILL);
  auto silent = forkipc::fork(io, helper("stdin_echo"), {}, {.silent = true});
  silent->end_stdin();
  silent->end_stdin();  // again: nothing
  CHECK_THROWS_WITH_AS(silent->write_stdin("x"), doctest::Contains("ended already"), std::logic_error);
  recorder seen(*silent);
  REQUIRE(test::run_until(io, [&] { return !seen.messages.empty(); }));
  CHECK(seen.messages.front() == json{{"stdin_bytes", 0}});
  silent->disconnect();
  REQUIRE(test::run_to_end(io));
}

TEST_CASE("signal: abort() from another thread kills the child with kill_signal, and \"error\" says aborted") {
  forkipc::abort_controller controller;
  boost::asio::io_context io;
  auto child = forkipc::fork(io, helper("credentials"), {}, {.kill_signal = SIGINT, .signal = controller.signal()});
  recorder seen(*child);
  REQUIRE(test::run_until(io, [&] { return !seen.messages.empty(); }));  // it runs, and waits
  CHECK(!controller.signal().aborted());
  std::thread([&] { controller.abort(); }).join();
  CHECK(controller.signal().aborted());
  REQUIRE(test::run_until(io, [&] { return seen.closed(); }));
  REQUIRE(seen.errors.size() == 1);
  CHECK(seen.errors[0].code() == forkipc::errc::aborted);
  CHECK(std::string(seen.errors[0].what()).find("was sent signal 2 (fork_options::signal)") != std::string::npos);
  CHECK(child->killed());
  CHECK(child->signal_code() == SIGINT);
  CHECK(seen.lifecycle().back() == "close SIG2");
  controller.abort();  // again: nothing
}

TEST_CASE("signal: aborted already, the child is killed as soon as it started, after \"spawn\"") {
  forkipc::abort_controller controller;
  controller.abort();
  boost::asio::io_context io;
  auto child = forkipc::fork(io, helper("credentials"), {}, {.signal = controller.signal()});
  recorder seen(*child);
  REQUIRE(test::run_until(io, [&] { return seen.closed(); }));
  CHECK(seen.events.front() == "spawn");
  REQUIRE(seen.errors.size() == 1);
  CHECK(seen.errors[0].code() == forkipc::errc::aborted);
  CHECK(child->signal_code() == SIGTERM);
}

TEST_CASE("signal: an abort after the child ended does nothing; one controller aborts many children") {
  forkipc::abort_controller controller;
  boost::asio::io_context io;
  auto ended = forkipc::fork(io, helper("exit_with"), {"3"}, {.signal = controller.signal()});
  recorder ended_seen(*ended);
  REQUIRE(test::run_until(io, [&] { return ended_seen.closed(); }));
  std::vector<std::shared_ptr<forkipc::child_process>> running;
  std::vector<std::unique_ptr<recorder>> running_seen;
  for (int i = 0; i < 3; ++i) {
    running.push_back(forkipc::fork(io, helper("credentials"), {}, {.signal = controller.signal()}));
    running_seen.push_back(std::make_unique<recorder>(*running.back()));
  }
  controller.abort();
  REQUIRE(test::run_to_end(io));
  CHECK(ended_seen.errors.empty());
  CHECK(ended_seen.lifecycle().back() == "close 3");
  for (const auto& seen : running_seen) {
    CHECK(seen->lifecycle().back() == "close SIG15");
    CHECK(seen->errors.size() == 1);
  }
}

TEST_CASE("signal: sync::child is sent kill_signal; receive() sees the end, wait() the signal") {
  forkipc::abort_controller controller;
  forkipc::sync::child child(helper("credentials"), {}, {.signal = controller.signal()});
  REQUIRE(child.receive(30s));
  std::thread aborter([&] { controller.abort(); });
  CHECK(!child.receive(30s));  // nullopt: the channel ended, well before the 30 s
  aborter.join();
  CHECK(child.wait().second == SIGTERM);
}

TEST_CASE("abort_signal: listeners run once, on abort; a dropped subscription never; late ones at once") {
  forkipc::abort_controller controller;
  const forkipc::abort_signal signal = controller.signal();
  int kept = 0, dropped = 0, late = 0;
  auto keep = signal.on_abort([&] { ++kept; });
  auto drop = signal.on_abort([&] { ++dropped; });
  drop.reset();
  std::thread([&] { controller.abort(); }).join();
  controller.abort();
  CHECK(kept == 1);
  CHECK(dropped == 0);
  auto after = signal.on_abort([&] { ++late; });
  CHECK(late == 1);
  CHECK(!forkipc::abort_signal().aborted());  // no controller: never
  { auto never = forkipc::abort_signal().on_abort([&] { ++late; }); }
  CHECK(late == 1);
}

TEST_CASE("extra_fds: the child gets them from fd 4 up, -1 leaves one closed; spawned directly and through the helper") {
  // limits start the child through forkipc-exec, whose error pipe then sits above them.
  for (const bool through_helper : {false, true}) {
    CAPTURE(through_helper);
    int out[2];
    REQUIRE(::pipe(out) == 0);
    const std::filesystem::path file =
        std::filesystem::temp_directory_path() / ("forkipc-extra-" + std::to_string(::getpid()));
    const int file_fd = ::open(file.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE(file_fd >= 0);
    forkipc::fork_options options{.silent = true, .extra_fds = {out[1], -1, file_fd}};
    if (through_helper) options.limits.open_files = 64;
    boost::asio::io_context io;
    auto child = forkipc::fork(io, "/bin/sh",
                               {"-c", "echo to-four >&4; echo to-six >&6; "
                                      "if { true >&5; } 2>/dev/null; then echo five-open; else echo five-closed; fi"},
                               options);
    ::close(out[1]);  // the child has its own copy
    ::close(file_fd);
    recorder seen(*child);
    REQUIRE(test::run_until(io, [&] { return seen.closed(); }));
    CHECK(seen.out == "five-closed\n");
    CHECK(seen.lifecycle().back() == "close 0");
    char buffer[64] = {};
    CHECK(std::string(buffer, static_cast<std::size_t>(::read(out[0], buffer, sizeof buffer))) == "to-four\n");
    ::close(out[0]);
    std::ifstream written(file);
    CHECK(std::string(std::istreambuf_iterator<char>(written), {}) == "to-six\n");
    std::filesystem::remove(file);
  }
}

TEST_CASE("extra_fds: a descriptor that is not open is EBADF, naming it; a zygote refuses them") {
  boost::asio::io_context io;
  const int closed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::close(closed);
  try {
    forkipc::fork(io, helper("credentials"), {}, {.extra_fds = {closed}});
    FAIL("started");
  } catch (const forkipc::error& e) {
    CHECK(e.code() == std::errc::bad_file_descriptor);
    CHECK(std::string(e.what()).find("cannot give descriptor " + std::to_string(closed)) != std::string::npos);
  }
  if (test::linux_backend) {
    CHECK_THROWS_WITH_AS(forkipc::zygote(io, helper("credentials"), {}, {.extra_fds = {0}}),
                         doctest::Contains("extra_fds"), forkipc::error);
  }
  CHECK(test::run_to_end(io));
}
