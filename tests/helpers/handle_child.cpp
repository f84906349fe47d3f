// A child that uses the descriptors its parent passes, in either serialization:
//   {"do": "write", "text": T} + a pipe or file   writes T to it; answers {"wrote": bytes}
//   {"do": "accept"} + a listening TCP socket     accepts one connection, writes
//                                                 "hello from forkipc\n" on it; answers {"accepted": true}
//   {"do": "answer"} + a connected socket         writes "answered by forkipc\n", closes it;
//                                                 answers {"answered": true}
//   {"do": "give"}                                passes back the read end of a pipe holding
//                                                 "from the child", with {"given": true}
//   anything else                                 answers {"fd": the descriptor received, or -1}
#include <forkipc/forkipc.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <string_view>

namespace {

bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Node passes its sockets non-blocking: wait for the connection rather than fail with EAGAIN.
forkipc::handle accept_one(int listener) {
  pollfd wait{listener, POLLIN, 0};
  if (::poll(&wait, 1, 20000) != 1) return forkipc::handle();
  return forkipc::handle(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
}

}  // namespace

int main() {
  boost::asio::io_context io;
  auto parent = forkipc::parent(io);
  parent->on("message", [&](const forkipc::json& m, forkipc::handle passed) {
    const std::string command = m.is_object() ? m.value("do", "") : "";
    if (command == "write") {
      const std::string text = m["text"];
      parent->send({{"wrote", write_all(passed.fd(), text) ? static_cast<int>(text.size()) : -1}});
    } else if (command == "accept") {
      const forkipc::handle connection = accept_one(passed.fd());
      parent->send({{"accepted", connection && write_all(connection.fd(), "hello from forkipc\n")}});
    } else if (command == "answer") {
      parent->send({{"answered", write_all(passed.fd(), "answered by forkipc\n")}});
    } else if (command == "give") {
      int ends[2];
      if (::pipe2(ends, O_CLOEXEC) != 0) return parent->send({{"given", false}}), void();
      forkipc::handle read_end(ends[0]), write_end(ends[1]);
      write_all(write_end.fd(), "from the child");
      write_end.reset();
      parent->send({{"given", true}}, std::move(read_end));
    } else {
      // Says whether it came with a descriptor and whether that one is close-on-exec.
      const int flags = passed ? ::fcntl(passed.fd(), F_GETFD) : -1;
      parent->send({{"fd", passed.fd()}, {"cloexec", flags >= 0 && (flags & FD_CLOEXEC) != 0}, {"echo", m}});
    }
  });
  io.run();
}
