// A hostile child, with no library in between: runs one attack of attacks.hpp on its channel
// (fd 3), then sends {"probe":7} and waits for {"ok":7}. Exits 0 once answered, 1 when the
// parent closed the channel first. argv[1]: the attack; argv[2]: "json" or "binary"; argv[3],
// "pool": as a pool worker instead, answering the pool's first request (id 1) with "probe"
// after the attack, then reading until the pool closes the channel (exit 0).
#include <cstdio>
#include <exception>
#include <string>

#include "attacks.hpp"

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const auto framing = std::string(argv[2]) == "binary" ? attacks::framing::binary : attacks::framing::json;
  const bool pool_worker = argc > 3 && std::string(argv[3]) == "pool";
  try {
    attacks::run(argv[1], framing, 3);
    attacks::write_all(3, pool_worker ? attacks::message(framing, R"({"forkipc":"reply","id":1,"body":"probe"})",
                                                         "\x83\xA7" "forkipc\xA5reply\xA2id\x01\xA4" "body\xA5probe")
                                      : attacks::probe(framing, 7));
  } catch (const std::exception& e) {  // the parent closed the channel: it may, after some attacks
    std::fprintf(stderr, "hostile_peer: %s\n", e.what());
  }
  std::string seen;
  if (pool_worker) {
    attacks::read_to_end(3);  // until the pool closes the channel
    return 0;
  }
  return attacks::read_until(3, seen, attacks::answer(framing, 7)) ? 0 : 1;
}
