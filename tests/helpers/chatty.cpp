// Writes to stdout and stderr, reads stdin to its end, reports how many bytes it read, and
// exits 0.
#include <forkipc/forkipc.hpp>

#include <unistd.h>

#include <cstdio>

int main() {
  std::fputs("to stdout\n", stdout);
  std::fflush(stdout);
  std::fputs("to stderr\n", stderr);
  char buffer[256];
  long total = 0;
  for (ssize_t n; (n = ::read(0, buffer, sizeof buffer)) > 0;) total += n;
  forkipc::sync::parent parent;
  parent.send({{"stdin_bytes", total}});
  return 0;
}
