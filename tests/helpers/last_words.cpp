// Sends a 1 MiB message and {"last": true}, then ends at once in the way argv[1] names:
// "return" (from main), "exit" (std::exit), "disconnect" (disconnect, then return), "sync"
// (through sync::parent, then return), or "handler" (both sent from a handler on the running
// loop, whose sends wait for the end of the turn, then std::exit inside that handler). Node loses such messages; forkipc must not. With argv[2]
// "binary", the first message is a 20 MiB binary value instead, which streams through shared
// memory when the channel is in binary serialization.
#include <forkipc/forkipc.hpp>

#include <boost/asio/post.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

int main(int argc, char** argv) {
  const std::string_view how = argc > 1 ? argv[1] : "return";
  const bool binary = argc > 2 && std::string_view(argv[2]) == "binary";
  const forkipc::json big = binary ? forkipc::json::binary(std::vector<std::uint8_t>(20 << 20, 'w'))
                                   : forkipc::json(std::string(1 << 20, 'w'));
  if (how == "sync") {
    forkipc::sync::parent parent;
    parent.send(big);
    parent.send({{"last", true}});
    return 0;
  }
  boost::asio::io_context io;
  auto parent = forkipc::parent(io);
  if (how == "handler") {
    boost::asio::post(io, [&] {
      parent->send(big);
      parent->send({{"last", true}});
      std::exit(0);
    });
    io.run();
    return 1;  // not reached
  }
  parent->send(big);
  parent->send({{"last", true}});
  if (how == "exit") std::exit(0);
  if (how == "disconnect") parent->disconnect();
  return 0;  // without ever running io
}
