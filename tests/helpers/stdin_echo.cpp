// Copies its stdin to its stdout until the end of its stdin, then sends how many bytes it read
// ({"stdin_bytes": n}) and waits for the parent to disconnect. It calls into forkipc first, so
// that a zygote of it forks there.
#include <forkipc/forkipc.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace {

bool write_all(const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(STDOUT_FILENO, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

int main() {
  forkipc::sync::parent parent;
  std::uint64_t total = 0;
  char buffer[16 * 1024];
  for (;;) {
    const ssize_t got = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (!write_all(buffer, static_cast<std::size_t>(got))) return 1;
    total += static_cast<std::uint64_t>(got);
  }
  parent.send({{"stdin_bytes", total}});
  while (parent.receive()) {
  }
  return 0;
}
