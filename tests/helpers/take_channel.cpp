// Takes a channel that is not a proper one and prints what forkipc says, as one JSON line on
// stdout: {"code": errno-or-errc value, "category": name, "what": message}, or {"taken": true}.
// argv[1] says what NODE_CHANNEL_FD names: "text" (not a number), "negative", "huge",
// "closed" (no such descriptor), "file" (/dev/null), "pipe", "dgram" (a Unix datagram socket),
// "inet" (a TCP socket), "listening" (a listening Unix stream socket), "good" (one end of a
// Unix stream socketpair).
#include <forkipc/forkipc.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

namespace {

std::string descriptor(std::string_view what) {
  int fds[2];
  if (what == "text") return "3x";
  if (what == "negative") return "-1";
  if (what == "huge") return "99999999999";
  if (what == "closed") return "999";
  if (what == "file") return std::to_string(::open("/dev/null", O_RDONLY));
  if (what == "pipe") return ::pipe(fds) == 0 ? std::to_string(fds[0]) : "";
  if (what == "dgram") return ::socketpair(AF_UNIX, SOCK_DGRAM, 0, fds) == 0 ? std::to_string(fds[0]) : "";
  if (what == "inet") return std::to_string(::socket(AF_INET, SOCK_STREAM, 0));
  if (what == "good") return ::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0 ? std::to_string(fds[0]) : "";
  if (what == "listening") {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string name = "forkipc-test-" + std::to_string(::getpid());  // abstract: leaves no file
    name.copy(address.sun_path + 1, sizeof address.sun_path - 2);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(fd, 1);
    return std::to_string(fd);
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  ::setenv("NODE_CHANNEL_FD", descriptor(argv[1]).c_str(), 1);
  try {
    forkipc::sync::parent parent;
    std::cout << forkipc::json{{"taken", true}} << std::endl;
  } catch (const forkipc::error& e) {
    std::cout << forkipc::json{{"code", e.code().value()}, {"category", e.code().category().name()},
                               {"what", e.what()}}
              << std::endl;
  }
  return 0;
}
