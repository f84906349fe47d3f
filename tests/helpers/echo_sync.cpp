// A child on forkipc::sync::parent: answers every message with itself (and every frame of bytes,
// with send_bytes) until the parent
// disconnects, then exits 0; bad input from the parent is written to stderr, and the loop goes
// on. argv[1], when given, is this end's max_message_size in bytes.
#include <forkipc/forkipc.hpp>

#include <cstdio>
#include <span>
#include <string>
#include <variant>

int main(int argc, char** argv) {
  forkipc::channel_options options;
  if (argc > 1) options.max_message_size = std::stoull(argv[1]);
  forkipc::sync::parent parent(options);
  for (;;) {
    try {
      auto received = parent.receive_any();
      if (!received) return 0;
      if (const auto* bytes = std::get_if<std::span<const std::byte>>(&*received)) {
        parent.send_bytes(*bytes);
      } else {
        parent.send(std::get<forkipc::json>(*received));
      }
    } catch (const forkipc::error& e) {
      // The parent disconnected while an answer was on its way: that is the end too.
      if (e.code() == forkipc::errc::channel_closed) return 0;
      std::fprintf(stderr, "echo_sync: %s\n", e.what());
    }
  }
}
