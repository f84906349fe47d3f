// A child on forkipc::sync::parent: answers every message with itself until the parent
// disconnects, then exits 0. argv[1], when given, is this end's max_message_size in bytes.
#include <forkipc/forkipc.hpp>

#include <string>

int main(int argc, char** argv) {
  forkipc::channel_options options;
  if (argc > 1) options.max_message_size = std::stoull(argv[1]);
  forkipc::sync::parent parent(options);
  try {
    while (auto message = parent.receive()) parent.send(*message);
  } catch (const forkipc::error& e) {
    // The parent disconnected while an answer was on its way: that is the end too.
    if (e.code() != forkipc::errc::channel_closed) throw;
  }
  return 0;
}
