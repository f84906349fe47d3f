// A hostile peer: every attack of tests/helpers/attacks.hpp (values nested a million levels
// deep, descriptor floods, handles with too few or too many descriptors, over-long lines, bad
// text, length claims of 4 GiB, a million lines never read), on every receiving path: a forkipc
// child on the asynchronous and on the blocking API, a pool worker on serve(), a forkipc parent
// on child_process, sync::child and pool. After each attack the attacked process lives, answers
// the next message, and holds no more descriptors than before it.
#include "support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>

#include "codec/json_walk.hpp"
#include "codec/message_codec.hpp"
#include "helpers/attacks.hpp"

extern char** environ;

using attacks::framing;
using forkipc::json;
using test::helper;
using namespace std::chrono_literals;

namespace {

std::size_t descriptors_of(pid_t pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++n;
  return n;
}

forkipc::serialization serialization_of(framing f) {
  return f == framing::binary ? forkipc::serialization::binary : forkipc::serialization::json;
}

std::string name_of(framing f) { return f == framing::binary ? "binary" : "json"; }

// The bytes forkipc writes for message.
std::string encoded(framing f, const json& message) {
  std::string out;
  forkipc::detail::encode_message(serialization_of(f), message, out);
  return out;
}

// What an attack should make the attacked process say (on its stderr, or as "error" events).
std::string expected_complaint(std::string_view attack) {
  if (attack == "deep_at_limit") return "";
  if (attack.starts_with("deep_")) return "levels deep";
  if (attack == "descriptor_flood") return "no message takes";
  if (attack == "descriptors_with_handles") return "no message takes";
  if (attack == "long_line_100MB") return "was discarded";
  if (attack == "bad_text") return "invalid UTF-8";
  if (attack == "length_claims_4GB") return "truncated";
  if (attack == "ext_types") return "which the peer never passed";
  if (attack == "empty_frame") return "empty binary frame";
  if (attack == "frame_length_4GB") return "cannot skip it safely";
  return "";
}

// A forkipc child started by hand on a raw socketpair, with NODE_CHANNEL_FD=3: this test is its
// parent, and writes whatever it likes. Its stderr goes to a file the test reads.
class raw_parent {
 public:
  raw_parent(const std::string& program, framing f) : framing_(f) {
    int ends[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == 0);
    socket_ = ends[0];
    stderr_fd_ = ::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    REQUIRE(stderr_fd_ >= 0);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, ends[1], 3);
    ::posix_spawn_file_actions_adddup2(&actions, stderr_fd_, 2);
    // Nothing more to close: every descriptor of this process is opened close-on-exec (the
    // library's, Asio's, this test's), and the child counts its own before and after the attacks.
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e)
      if (!std::string_view(*e).starts_with("NODE_CHANNEL")) env.emplace_back(*e);
    env.push_back("NODE_CHANNEL_FD=3");
    env.push_back(std::string("NODE_CHANNEL_SERIALIZATION_MODE=") + (f == framing::binary ? "forkipc-binary" : "json"));
    std::vector<char*> envp, argv{const_cast<char*>(program.c_str()), nullptr};
    for (auto& entry : env) envp.push_back(entry.data());
    envp.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), envp.data()) == 0);
    ::posix_spawn_file_actions_destroy(&actions);
    ::close(ends[1]);
  }

  ~raw_parent() {
    if (socket_ >= 0) ::close(socket_);
    ::close(stderr_fd_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  raw_parent(const raw_parent&) = delete;
  raw_parent& operator=(const raw_parent&) = delete;

  // Runs the attack (in a thread, while this one reads what the child answers, so that a child
  // that answers everything never blocks on a full socket), then writes probe and reads until
  // answer comes. Returns false when it did not (the child closed the channel, or 120 s passed).
  bool attack(std::string_view name, const std::string& probe, const std::string& answer) {
    auto writer = std::async(std::launch::async, [&] {
      attacks::run(name, framing_, socket_);
      attacks::write_all(socket_, probe);
    });
    seen_.clear();
    const bool answered = attacks::read_until(socket_, seen_, answer, 120'000);
    try {
      writer.get();
    } catch (const std::exception& e) {
      MESSAGE("writing the attack stopped: " << e.what());
    }
    return answered;
  }

  // What the child sent back during the last attack.
  const std::string& seen() const { return seen_; }

  std::size_t descriptors() const { return descriptors_of(pid_); }

  std::string errors() const {
    std::string text(static_cast<std::size_t>(::lseek(stderr_fd_, 0, SEEK_END)), '\0');
    REQUIRE(::pread(stderr_fd_, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size()));
    return text;
  }

  // Closes the channel; returns the child's exit status as describe_end writes it.
  std::string end() {
    ::close(std::exchange(socket_, -1));
    int status = 0;
    const bool ended = test::eventually("the child ended after its channel closed",
                                        [&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; });
    REQUIRE(ended);
    pid_ = -1;
    return WIFEXITED(status) ? test::describe_end(WEXITSTATUS(status), std::nullopt)
                             : test::describe_end(std::nullopt, WTERMSIG(status));
  }

 private:
  framing framing_;
  pid_t pid_ = -1;
  int socket_ = -1;
  int stderr_fd_ = -1;
  std::string seen_;
};

// Every attack, in turn, on one child: it answers the probe after each, and holds as many
// descriptors as it did before the first. An echo child sends back what it takes.
void attack_child(const std::string& program, framing f, const json& probe, const json& answer, bool echoes) {
  raw_parent parent(program, f);
  REQUIRE(parent.attack("deep_at_limit", encoded(f, probe), encoded(f, answer)));  // warms up too
  const std::size_t baseline = parent.descriptors();
  std::size_t complaints = 0;
  for (const std::string& name : attacks::names(f)) {
    CAPTURE(name);
    const bool answered = parent.attack(name, encoded(f, probe), encoded(f, answer));
    if (!attacks::channel_survives(name)) {
      CHECK_FALSE(answered);
      CHECK(parent.end() == "0");  // the channel closed, and the child ended as it should
      CHECK(parent.errors().find(expected_complaint(name)) != std::string::npos);
      return;
    }
    REQUIRE(answered);
    CHECK(parent.descriptors() == baseline);
    if (name == "deep_at_limit") {
      if (!echoes) continue;
      // Echoed whole, as deep as it came.
      CHECK(parent.seen().find(attacks::deep_arrays(f, attacks::default_depth_limit)) != std::string::npos);
    } else if (const std::string expected = expected_complaint(name); !expected.empty()) {
      const std::string errors = parent.errors();
      CHECK_MESSAGE(errors.find(expected, complaints) != std::string::npos, errors.substr(complaints, 2000));
      complaints = errors.size();
    }
  }
  CHECK(parent.end() == "0");
}

}  // namespace

TEST_CASE("a hostile parent: a forkipc::parent child lives through every attack, answers, and holds no more descriptors") {
  for (framing f : {framing::json, framing::binary}) {
    CAPTURE(name_of(f));
    attack_child(helper("echo_async"), f, {{"probe", 7}}, {{"probe", 7}}, true);
  }
}

TEST_CASE("a hostile parent: a sync::parent child lives through every attack, answers, and holds no more descriptors") {
  for (framing f : {framing::json, framing::binary}) {
    CAPTURE(name_of(f));
    attack_child(helper("echo_sync"), f, {{"probe", 7}}, {{"probe", 7}}, true);
  }
}

TEST_CASE("a hostile parent: a pool worker on serve() lives through every attack, answers, and holds no more descriptors") {
  for (framing f : {framing::json, framing::binary}) {
    CAPTURE(name_of(f));
    attack_child(helper("pool_worker"), f, {{"forkipc", "request"}, {"id", 7}, {"body", {{"op", "echo"}, {"value", 7}}}},
                 {{"forkipc", "reply"}, {"id", 7}, {"body", 7}}, false);
  }
}

namespace {

// The descriptors this process has open, as a count.
std::size_t own_descriptors() { return test::open_fds().size(); }

}  // namespace

TEST_CASE("a hostile child: a child_process parent lives through every attack, answers, and holds no more descriptors") {
  for (framing f : {framing::json, framing::binary}) {
    for (const std::string& name : attacks::names(f)) {
      CAPTURE(name_of(f));
      CAPTURE(name);
      const bool survives = attacks::channel_survives(name);
      const std::size_t baseline = own_descriptors();
      {
        boost::asio::io_context io;
        auto child = forkipc::fork(io, helper("hostile_peer"), {name, name_of(f)},
                                   {.serialization = serialization_of(f)});
        std::string complaints;
        bool probed = false;
        child->on("message", [&](const json& m) {
          if (m.is_object() && m.contains("probe")) {
            probed = true;
            child->send({{"ok", 7}});
          } else {
            child->send(m);  // as a relay would: the deepest message it takes goes back whole
          }
        });
        child->on("error", [&](const forkipc::error& e) { complaints += std::string(e.what()) + "\n"; });
        std::optional<int> code;
        child->on("exit", [&](std::optional<int> c, std::optional<int>) { code = c; });
        test::run_to_end(io, 180s);
        CHECK(probed == survives);
        CHECK(code == (survives ? 0 : 1));
        CHECK(complaints.find(expected_complaint(name)) != std::string::npos);
      }
      CHECK(own_descriptors() == baseline);
    }
  }
}

TEST_CASE("a hostile child: a sync::child parent lives through every attack, answers, and holds no more descriptors") {
  for (framing f : {framing::json, framing::binary}) {
    for (const std::string& name : attacks::names(f)) {
      CAPTURE(name_of(f));
      CAPTURE(name);
      const bool survives = attacks::channel_survives(name);
      const std::size_t baseline = own_descriptors();
      {
        forkipc::sync::child child(helper("hostile_peer"), {name, name_of(f)}, {.serialization = serialization_of(f)});
        std::string complaints;
        bool probed = false;
        for (;;) {
          try {
            auto m = child.receive(120s);
            if (!m) break;
            if (m->is_object() && m->contains("probe")) {
              probed = true;
              child.send({{"ok", 7}});
            }
          } catch (const forkipc::error& e) {
            complaints += std::string(e.what()) + "\n";
          }
        }
        CHECK(probed == survives);
        CHECK(child.wait().first == (survives ? 0 : 1));
        CHECK(complaints.find(expected_complaint(name)) != std::string::npos);
      }
      CHECK(own_descriptors() == baseline);
    }
  }
}

TEST_CASE("a hostile worker: a pool lives through every attack, answers, and holds no more descriptors") {
  for (framing f : {framing::json, framing::binary}) {
    for (const std::string& name : attacks::names(f)) {
      CAPTURE(name_of(f));
      CAPTURE(name);
      const bool survives = attacks::channel_survives(name);
      const std::size_t baseline = own_descriptors();
      {
        boost::asio::io_context io;
        forkipc::pool pool(io, helper("hostile_peer"), {name, name_of(f), "pool"},
                           {.workers = 1, .fork = {.serialization = serialization_of(f)}});
        std::optional<std::pair<std::error_code, json>> result;
        pool.async_request(json("anything"), [&](std::error_code ec, json reply) {
          result.emplace(ec, std::move(reply));
          pool.close();
        });
        test::run_to_end(io, 180s);
        REQUIRE(result);
        if (survives) {
          CHECK_FALSE(result->first);
          CHECK(result->second == "probe");
        } else {
          CHECK(result->first == forkipc::errc::worker_exited);
        }
      }
      CHECK(own_descriptors() == baseline);
    }
  }
}

TEST_CASE("a program's own value nested too deep is refused by send, never a stack overflow") {
  json deep = 0;
  for (int i = 0; i < 1'000'000; ++i) deep = json::array({std::move(deep)});  // nlohmann frees it without recursing
  for (auto mode : {forkipc::serialization::json, forkipc::serialization::binary, forkipc::serialization::advanced}) {
    CAPTURE(static_cast<int>(mode));
    boost::asio::io_context io;
    auto child = forkipc::fork(io, helper("echo_async"), {}, {.serialization = mode});
    std::optional<json> echoed;
    std::size_t echoed_depth_ok = 0;
    child->on("message", [&](const json& m) {
      // Not copied: a copy recurses, and under the sanitizers' larger frames 5,000 levels come
      // near the end of the stack.
      if (forkipc::detail::nested_within(m, attacks::default_depth_limit)) ++echoed_depth_ok;
      if (m.is_object()) echoed = m;
    });
    try {
      child->send(deep);
      FAIL("send took a value nested a million levels deep");
    } catch (const forkipc::error& e) {
      CHECK(e.code() == forkipc::errc::unencodable_message);
      CHECK(std::string(e.what()).find("nested more than 5000 levels deep") != std::string::npos);
    }
    // With a handle, the message would be copied into Node's envelope: refused before that.
    CHECK_THROWS_AS(child->send(deep, forkipc::handle(::open("/dev/null", O_RDONLY | O_CLOEXEC))), forkipc::error);
    // At the limit, it goes, and comes back.
    json at_limit = 0;
    for (std::size_t i = 0; i < attacks::default_depth_limit; ++i) at_limit = json::array({std::move(at_limit)});
    child->send(at_limit);
    child->send({{"after", true}});
    test::run_until(io, [&] { return echoed.has_value(); });
    CHECK(echoed_depth_ok == 2);
    child->disconnect();
    test::run_to_end(io);
  }
  // The blocking API, and the sender's own limit.
  forkipc::sync::child child(helper("echo_sync"), {}, {.max_nesting_depth = 3});
  CHECK_THROWS_AS(child.send(json::parse("[[[[1]]]]")), forkipc::error);
  child.send(json::parse("[[[1]]]"));
  CHECK(child.receive(30s) == json::parse("[[[1]]]"));
}

namespace {

// How many of this process's descriptors are open on path.
std::size_t open_on(const std::filesystem::path& path) {
  std::size_t n = 0;
  for (const int fd : test::open_fds()) {
    std::error_code ec;
    if (std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec) == path) ++n;
  }
  return n;
}

// This process's resident memory, in bytes.
std::size_t own_rss() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmRSS:")) return std::stoul(line.substr(6)) * 1024;
  return 0;
}

}  // namespace

TEST_CASE("a hostile child on shared memory: position records no message reaches are refused, and their descriptors closed with the channel") {
  // What each attack must make the parent say, once (see tests/helpers/shm_attacker.cpp).
  const std::map<std::string, std::string> complaints = {
      {"records_far", "beyond"},            // a position past what the child wrote: the channel breaks
      {"records_held", "no message takes"}, // held for a message that never came: closed at the end
      {"records_flood", "broke the shared-memory channel"},
  };
  for (framing f : {framing::json, framing::binary}) {
    for (const auto& entry : complaints) {
      const std::string& attack = entry.first;  // not a structured binding: lambdas below capture it
      const std::string& complaint = entry.second;
      CAPTURE(name_of(f));
      CAPTURE(attack);
      const std::size_t baseline = own_descriptors();
      const std::size_t null_baseline = open_on("/dev/null");  // the attacker passes /dev/null
      const std::size_t rss_before = own_rss();
      boost::asio::io_context io;
      auto child = forkipc::fork(io, helper("shm_attacker"), {attack, name_of(f)},
                                 {.serialization = serialization_of(f), .transport = forkipc::transport::shared_memory});
      bool started = false;
      std::vector<std::string> errors;
      std::optional<std::size_t> at_close;
      child->on("message", [&](const json& m) { started = started || m == json{{"started", true}}; });
      child->on("error", [&](const forkipc::error& e) { errors.push_back(e.what()); });
      child->on("close", [&](std::optional<int>, std::optional<int>) { at_close = open_on("/dev/null"); });
      test::run_to_end(io, 120s);
      // The message before a record that is in order (records_held) is delivered; a channel
      // broken by a record may end before the message before it is read.
      if (attack == "records_held") CHECK(started);
      REQUIRE(errors.size() == 1);
      CHECK_MESSAGE(errors[0].find(complaint) != std::string::npos, errors[0]);
      // Closed once the channel closed, while the child_process still exists.
      CHECK(at_close == null_baseline);
      CHECK(own_rss() < rss_before + (4u << 20));
      child.reset();
      io.restart();
      io.poll();
      // At most the io_context's own: epoll, eventfd, timerfd, and where SIGCHLD watches the
      // children (the posix backend) both ends of Asio's signal pipe.
      CHECK(own_descriptors() <= baseline + (test::linux_backend ? 3 : 5));
    }
  }
}

TEST_CASE("a hostile child on shared memory: a sync::child parent refuses far records and closes held descriptors") {
  for (framing f : {framing::json, framing::binary}) {
    for (const std::string attack : {"records_far", "records_held"}) {
      CAPTURE(name_of(f));
      CAPTURE(attack);
      const std::size_t null_baseline = open_on("/dev/null");
      forkipc::sync::child child(helper("shm_attacker"), {attack, name_of(f)},
                                 {.serialization = serialization_of(f), .transport = forkipc::transport::shared_memory});
      std::vector<std::string> errors;
      bool started = false;
      for (;;) {
        try {
          auto message = child.receive(60s);
          if (!message) break;
          started = started || *message == json{{"started", true}};
        } catch (const forkipc::error& e) {
          errors.push_back(e.what());
        }
      }
      if (attack == "records_held") CHECK(started);
      REQUIRE(errors.size() == 1);
      CHECK_MESSAGE(errors[0].find(attack == "records_far" ? "beyond" : "no message takes") != std::string::npos, errors[0]);
      CHECK(open_on("/dev/null") == null_baseline);
      child.disconnect();
      CHECK(child.wait() == std::pair<std::optional<int>, std::optional<int>>{0, std::nullopt});
    }
  }
}
