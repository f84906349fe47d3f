// A child on forkipc::sync::parent: answers every message with itself until the parent
// disconnects, then exits 0.
#include <forkipc/forkipc.hpp>

int main() {
  forkipc::sync::parent parent;
  try {
    while (auto message = parent.receive()) parent.send(*message);
  } catch (const forkipc::error& e) {
    // The parent disconnected while an answer was on its way: that is the end too.
    if (e.code() != forkipc::errc::channel_closed) throw;
  }
  return 0;
}
