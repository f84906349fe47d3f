// Passing descriptors over the channel (SCM_RIGHTS), between forkipc processes in every
// serialization, and with Node's NODE_HANDLE exchange both ways, in both of Node's.
#include "support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

using forkipc::json;
using test::helper;
using test::recorder;

namespace {

const forkipc::serialization every_mode[] = {forkipc::serialization::json, forkipc::serialization::binary,
                                             forkipc::serialization::advanced};
// Node's serializations.
const forkipc::serialization node_modes[] = {forkipc::serialization::json, forkipc::serialization::advanced};

const char* name_of(forkipc::serialization mode) {
  switch (mode) {
    case forkipc::serialization::binary: return "binary";
    case forkipc::serialization::advanced: return "advanced";
    default: return "json";
  }
}

struct pipe_pair {
  forkipc::handle read_end, write_end;
  pipe_pair() {
    int ends[2];
    REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
    read_end.reset(ends[0]);
    write_end.reset(ends[1]);
  }
};

// Everything fd yields until its end: every copy of the other end must be closed for it to come.
std::string read_to_end(int fd) {
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

// A TCP socket listening on a free port of 127.0.0.1.
forkipc::handle listening_socket(int& port) {
  forkipc::handle s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(s);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(s.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(s.fd(), 16) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(s.fd(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
  port = ntohs(address.sin_port);
  return s;
}

forkipc::handle connect_to(int port) {
  forkipc::handle s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  REQUIRE(::connect(s.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  return s;
}

// Sends message with passed to a fresh child of program, waits for the first reply, then
// disconnects and waits for the end.
json reply_to(const std::string& program, const json& message, forkipc::handle passed,
              forkipc::fork_options options = {}) {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, program, {}, options);
  recorder seen(*child);
  child->send(message, std::move(passed));
  test::run_until(io, [&] { return !seen.messages.empty() || seen.closed(); });
  child->disconnect();
  test::run_to_end(io);
  CHECK(seen.errors.empty());
  REQUIRE(!seen.messages.empty());
  return seen.messages.front();
}

}  // namespace

TEST_CASE("a pipe passed to a forkipc child is written by it; both copies are closed after") {
  for (const auto mode : every_mode) {
    CAPTURE(name_of(mode));
    pipe_pair p;
    const json reply = reply_to(helper("handle_child"), {{"do", "write"}, {"text", "through the pipe"}},
                                std::move(p.write_end), {.serialization = mode});
    CHECK(reply == json{{"wrote", 16}});
    // The end comes only once the parent's copy (closed once sent) and the child's (closed after
    // its listener) are gone.
    CHECK(read_to_end(p.read_end.fd()) == "through the pipe");
  }
}

TEST_CASE("a listening socket passed to a forkipc child accepts connections there") {
  for (const auto mode : every_mode) {
    CAPTURE(name_of(mode));
    int port = 0;
    forkipc::handle server = listening_socket(port);
    forkipc::handle client = connect_to(port);  // waits in the backlog until the child accepts
    const json reply = reply_to(helper("handle_child"), {{"do", "accept"}}, std::move(server),
                                {.serialization = mode});
    CHECK(reply == json{{"accepted", true}});
    CHECK(read_to_end(client.fd()) == "hello from forkipc\n");
  }
}

TEST_CASE("a child passes a descriptor back; what it receives is close-on-exec") {
  for (const auto mode : every_mode) {
    CAPTURE(name_of(mode));
    boost::asio::io_context io;
    auto child = test::fork(io, helper("handle_child"), {}, {.serialization = mode});
    recorder seen(*child);
    std::string from_child;
    bool cloexec = false;
    child->on("message", [&](const json& m, forkipc::handle passed) {
      if (!m.contains("given")) return;
      cloexec = (::fcntl(passed.fd(), F_GETFD) & FD_CLOEXEC) != 0;
      from_child = read_to_end(passed.fd());
    });
    child->send({{"do", "give"}});
    pipe_pair p;
    child->send({{"do", "tell"}}, std::move(p.write_end));
    test::run_until(io, [&] { return seen.messages.size() == 2 || seen.closed(); });
    child->disconnect();
    test::run_to_end(io);
    CHECK(from_child == "from the child");
    CHECK(cloexec);
    REQUIRE(seen.messages.size() == 2);
    CHECK(seen.messages[1]["fd"].get<int>() >= 3);
    CHECK(seen.messages[1]["cloexec"] == true);
    CHECK(seen.messages[1]["echo"] == json{{"do", "tell"}});
  }
}

TEST_CASE("a descriptor no listener takes is closed, not leaked") {
  const auto before = test::open_fds();
  {
    boost::asio::io_context io;
    auto child = test::fork(io, helper("handle_child"));
    recorder seen(*child);  // takes messages only
    for (int i = 0; i < 20; ++i) child->send({{"do", "give"}});
    test::run_until(io, [&] { return seen.messages.size() == 20 || seen.closed(); });
    child->disconnect();
    test::run_to_end(io);
    CHECK(seen.messages.size() == 20);
  }
  CHECK(test::open_fds() == before);
}

TEST_CASE("a handle sent on a closed channel is closed") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("handle_child"));
  recorder seen(*child);
  child->disconnect();
  pipe_pair p;
  std::error_code result;
  child->send({{"late", true}}, std::move(p.write_end), [&](std::error_code ec) { result = ec; });
  test::run_to_end(io);
  CHECK(result == forkipc::errc::channel_closed);
  CHECK(read_to_end(p.read_end.fd()).empty());  // the end came: no copy of the write end is left
}

TEST_CASE("Node child: a passed accepted socket is a net.Socket it answers on") {
  for (const auto mode : node_modes) {
    CAPTURE(name_of(mode));
    int port = 0;
    forkipc::handle server = listening_socket(port);
    forkipc::handle client = connect_to(port);
    forkipc::handle accepted(::accept4(server.fd(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(accepted);
    const json reply = reply_to(test::script("handle_answer.js"), {{"do", "answer"}}, std::move(accepted),
                                {.exec_path = "node", .serialization = mode});
    CHECK(reply == json{{"done", "answer"}, {"type", "net.Socket"}});
    CHECK(read_to_end(client.fd()) == "answered by node\n");
  }
}

TEST_CASE("Node child: a passed listening socket is a net.Server that serves") {
  for (const auto mode : node_modes) {
    CAPTURE(name_of(mode));
    int port = 0;
    forkipc::handle server = listening_socket(port);
    boost::asio::io_context io;
    auto child = forkipc::fork(io, test::script("handle_answer.js"), {}, {.exec_path = "node", .serialization = mode});
    recorder seen(*child);
    child->send({{"do", "serve"}}, std::move(server));
    test::run_until(io, [&] { return !seen.messages.empty() || seen.closed(); });
    REQUIRE(!seen.messages.empty());
    CHECK(seen.messages[0] == json{{"done", "serve"}, {"type", "net.Server"}});
    for (int i = 0; i < 3; ++i) {
      forkipc::handle client = connect_to(port);
      CHECK(read_to_end(client.fd()) == "hello from node\n");
    }
    child->disconnect();
    test::run_to_end(io);
    CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
  }
}

TEST_CASE("Node parent: a net.Server and a net.Socket passed to a forkipc child work there") {
  for (const auto mode : node_modes) {
    CAPTURE(name_of(mode));
    const json report = test::node_parent_report("pass_handles.js", {helper("handle_child"), name_of(mode)});
    CHECK(report["server"] == "hello from forkipc\n");
    CHECK(report["socket"] == "answered by forkipc\n");
    CHECK(report["replies"] == json::array({json{{"accepted", true}}, json{{"answered", true}}}));
    CHECK(report["events"] == json::array({"exit 0 null"}));
  }
}
