// A child on forkipc::parent(io): answers every message with itself (and every frame of bytes,
// with send_bytes), but obeys the objects with
// a "do" member:
//   {"do": "exit", "code": N}    send {"bye": N}, then std::exit(N) (what is queued must arrive)
//   {"do": "disconnect"}         disconnect; io.run() then returns and the child exits 0
//   {"do": "abort"}, {"do": "segv"}
//   {"do": "send", "count": N}   send N messages {"i": k}, then {"done": N}
// argv[1], when given, is this end's max_message_size in bytes.
#include <forkipc/forkipc.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  boost::asio::io_context io;
  forkipc::channel_options options;
  if (argc > 1) options.max_message_size = std::stoull(argv[1]);
  auto parent = forkipc::parent(io, options);
  parent->on("bytes", [&](std::span<const std::byte> bytes) { parent->send_bytes(bytes); });
  parent->on("message", [&](const forkipc::json& m) {
    if (!m.is_object() || !m.contains("do")) {
      parent->send(m);
      return;
    }
    const std::string command = m["do"];
    if (command == "exit") {
      parent->send({{"bye", m["code"]}});
      std::exit(m["code"].get<int>());
    } else if (command == "disconnect") {
      parent->disconnect();
    } else if (command == "abort" || command == "segv") {
      const rlimit no_core{0, 0};
      ::setrlimit(RLIMIT_CORE, &no_core);
      if (command == "abort") std::abort();
      std::signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would turn the crash into exit(1)
      std::raise(SIGSEGV);
    } else if (command == "send") {
      const int count = m["count"].get<int>();
      for (int k = 0; k < count; ++k) parent->send({{"i", k}});
      parent->send({{"done", count}});
    }
  });
  io.run();
  return 0;
}
