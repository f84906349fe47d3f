// A program outside forkipc's build, using only the public contract, built against the
// installed library (through pkg-config, or as a Meson subproject). It is its own child: run
// with a channel, it plays the child that argv[1] names.
#define DOCTEST_CONFIG_IMPLEMENT
#include <forkipc/forkipc.hpp>

#include <doctest/doctest.h>
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;
std::string self;

int child_main(std::string_view role) {
  if (role == "bad-input") {  // a peer that is not forkipc: raw lines on fd 3
    const std::string lines = "{\"n\":1}\nnot json\n\n{\"n\":2}\n";
    if (::write(3, lines.data(), lines.size()) != static_cast<ssize_t>(lines.size())) return 2;
    char byte;
    while (::read(3, &byte, 1) > 0) {
    }
    return 0;
  }
  if (role == "sync-echo") {
    forkipc::sync::parent parent;
    while (auto m = parent.receive()) parent.send(*m);
    return 0;
  }
  boost::asio::io_context io;  // "echo": {"exit": N} makes it answer "bye" and exit with N
  auto parent = forkipc::parent(io);
  parent->on("message", [&](const forkipc::json& m) {
    if (m.is_object() && m.contains("exit")) {
      parent->send("bye");
      std::exit(m["exit"].get<int>());
    }
    parent->send(m);
  });
  io.run();
  return 0;
}

struct seen {
  std::vector<std::string> events;
  std::vector<forkipc::json> messages;
  std::vector<std::error_code> errors;
  int closes = 0;

  explicit seen(forkipc::child_process& c) {
    c.on("spawn", [this] { events.push_back("spawn"); });
    c.on("message", [this](const forkipc::json& m) { messages.push_back(m); });
    c.on("disconnect", [this] { events.push_back("disconnect"); });
    c.on("exit", [this](std::optional<int> code, std::optional<int> signal) {
      events.push_back(code ? "exit " + std::to_string(*code) : "exit SIG" + std::to_string(*signal));
    });
    c.on("close", [this] { events.push_back("close"), ++closes; });
    c.on("error", [this](const forkipc::error& e) { errors.push_back(e.code()); });
  }
};

int count_fds() {
  int n = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  while (const dirent* e = ::readdir(dir)) n += e->d_name[0] != '.';
  ::closedir(dir);
  return n;
}

}  // namespace

TEST_CASE("event order, and close exactly once, on every way a child ends") {
  boost::asio::io_context io;
  auto normal = forkipc::fork(io, self, {"echo"});
  auto killed = forkipc::fork(io, self, {"echo"});
  auto left = forkipc::fork(io, self, {"echo"});
  seen n(*normal), k(*killed), l(*left);
  normal->send({{"x", 1}});
  normal->send({{"exit", 5}});
  killed->kill();
  left->disconnect();
  io.run_for(30s);
  CHECK(io.stopped());
  CHECK(n.events == std::vector<std::string>{"spawn", "disconnect", "exit 5", "close"});
  CHECK(n.messages == std::vector<forkipc::json>{{{"x", 1}}, "bye"});
  CHECK(k.events == std::vector<std::string>{"spawn", "disconnect", "exit SIG15", "close"});
  CHECK(l.events == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close"});
  CHECK(n.closes + k.closes + l.closes == 3);
}

TEST_CASE("bad input from the peer is reported, and what follows still arrives") {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, self, {"bad-input"});
  seen s(*child);
  child->on("message", [&](const forkipc::json& m) {
    if (m == forkipc::json{{"n", 2}}) child->disconnect();
  });
  io.run_for(30s);
  CHECK(s.messages == std::vector<forkipc::json>{{{"n", 1}}, {{"n", 2}}});
  REQUIRE(s.errors.size() == 2);
  CHECK(s.errors[0] == forkipc::errc::malformed_message);
  CHECK(s.errors[1] == forkipc::errc::malformed_message);
  CHECK(s.closes == 1);
}

TEST_CASE("no zombie and no descriptor left after 100 children") {
  boost::asio::io_context io;
  forkipc::fork(io, self, {"echo"})->disconnect();
  io.run_for(30s);  // the io_context's own descriptors exist from here on
  const int fds = count_fds();
  for (int i = 0; i < 100; ++i) forkipc::fork(io, self, {"echo"})->disconnect();
  io.restart();
  io.run_for(60s);
  CHECK(io.stopped());
  CHECK(count_fds() == fds);
  // No child of ours is left in /proc, zombie or not.
  const std::string mine = "PPid:\t" + std::to_string(::getpid());
  int children = 0;
  DIR* proc = ::opendir("/proc");
  while (const dirent* e = ::readdir(proc)) {
    FILE* status = std::fopen(("/proc/" + std::string(e->d_name) + "/status").c_str(), "r");
    if (!status) continue;
    char line[256];
    while (std::fgets(line, sizeof line, status))
      if (std::string_view(line).starts_with(mine)) ++children;
    std::fclose(status);
  }
  ::closedir(proc);
  CHECK(children == 0);
}

TEST_CASE("the blocking API, and errors that compare with forkipc::errc") {
  forkipc::sync::child child(self, {"sync-echo"});
  child.send({{"hello", "世界"}});
  CHECK(child.receive(30s) == forkipc::json{{"hello", "世界"}});
  child.disconnect();
  CHECK(child.wait().first == 0);
  try {
    child.send("late");
    FAIL("send after disconnect did not throw");
  } catch (const forkipc::error& e) {
    CHECK(e.code() == forkipc::errc::channel_closed);
  }
  try {
    forkipc::fork("/nonexistent/program");
    FAIL("fork did not throw");
  } catch (const forkipc::error& e) {
    CHECK(std::string(e.what()).find("/nonexistent/program") != std::string::npos);
  }
}

int main(int argc, char** argv) {
  if (forkipc::has_parent()) return child_main(argc > 1 ? argv[1] : "echo");
  self = std::filesystem::canonical("/proc/self/exe").string();
  return doctest::Context(argc, argv).run();
}
