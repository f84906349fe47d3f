// A worker of cluster_server: answers each connection its parent passes it, then closes it.
#include <forkipc/forkipc.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace {

// Reads the request head (up to its blank line), so that closing does not reset a connection
// with unread bytes, then writes a fixed answer. Blocking, with a timeout: connections are
// short, and a worker serves one at a time.
void answer(int connection) {
  ::fcntl(connection, F_SETFL, ::fcntl(connection, F_GETFL) & ~O_NONBLOCK);
  const timeval patience{5, 0};
  ::setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  std::string request;
  char buffer[4096];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
    const ssize_t n = ::recv(connection, buffer, sizeof buffer, 0);
    if (n <= 0) return;
    request.append(buffer, static_cast<std::size_t>(n));
  }
  const std::string body = "hello from worker " + std::to_string(::getpid()) + "\n";
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  for (std::size_t sent = 0; sent < response.size();) {
    const ssize_t n = ::send(connection, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(connection, SHUT_WR);
}

}  // namespace

int main() {
  boost::asio::io_context io;
  auto parent = forkipc::parent(io);
  parent->on("message", [](const forkipc::json&, forkipc::handle connection) {
    if (connection) answer(connection.fd());
  });  // the handle closes the connection when the listener returns
  io.run();  // until the parent disconnects
}
