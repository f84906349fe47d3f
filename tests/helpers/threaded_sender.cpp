// parent_process::send from several threads at once (for the thread-safety suite, under
// ThreadSanitizer too): argv[1] threads each send argv[2] messages {"t": thread, "i": k} while
// the main thread runs the io_context; then {"done": true}, and the child exits once the parent
// disconnects.
#include <forkipc/forkipc.hpp>

#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 4;
  const int count = argc > 2 ? std::atoi(argv[2]) : 1000;
  boost::asio::io_context io;
  auto parent = forkipc::parent(io);
  auto work = boost::asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t)
    senders.emplace_back([&, t] {
      for (int k = 0; k < count; ++k) parent->send({{"t", t}, {"i", k}});
    });
  for (auto& s : senders) s.join();
  parent->send({{"done", true}});
  work.reset();
  loop.join();  // returns once the parent disconnects
  return 0;
}
