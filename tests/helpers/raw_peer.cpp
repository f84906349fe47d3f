// Writes hand-made lines to fd 3, good and bad, with no library in between; then waits for the
// parent to close the channel. argv[1]: the size of the over-long line, in bytes.
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(3, bytes.data(), bytes.size());
    if (n <= 0) std::exit(2);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t long_size = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2 << 20;
  write_all("{\"n\":1}\n");
  write_all("{\"n\":2\n");  // malformed
  write_all("\n");          // empty
  // Over-long, in pieces, as a stream would bring it. Its start goes out with {"n":3}: a parent
  // that has {"n":3} holds part of the long line too, so killing the child then cuts it off.
  write_all("{\"n\":3}\n{\"s\":\"");
  const std::string piece(64 * 1024, 'x');
  for (std::size_t sent = 0; sent < long_size; sent += piece.size()) write_all(piece);
  write_all("\"}\n");
  write_all("{\"n\":4}\n");
  write_all("{\"s\":\"\xff\xfe\"}\n");  // invalid UTF-8
  write_all("{\"cmd\":\"NODE_HANDLE_ACK\"}\n");  // internal: never a message
  write_all("{\"cmd\":\"NODE_\"}\n");            // an ordinary message
  write_all("{\"n\":5}\n");
  char byte;
  while (::read(3, &byte, 1) > 0) {
  }
  return 0;
}
