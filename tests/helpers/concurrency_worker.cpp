// A pool worker that holds requests, to show how many a pool lets one worker have at once.
// It speaks the pool's envelope itself (serve() answers one request at a time), on
// forkipc::parent(io). Requests:
//   {"op": "hold", "until": K, "ms": M}  held until this worker holds K requests (then all that it
//                                        holds are answered) or for M ms, whichever comes first
// Each answer is {"pid": its pid, "most": the most requests it ever held at once}.
#include <forkipc/forkipc.hpp>

#include <unistd.h>

#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <map>
#include <memory>

int main() {
  boost::asio::io_context io;
  auto parent = forkipc::parent(io);
  std::map<std::uint64_t, std::pair<forkipc::json, std::unique_ptr<boost::asio::steady_timer>>> holding;
  std::uint64_t next = 0;
  std::size_t most = 0;
  auto answer = [&](std::uint64_t key) {
    const auto it = holding.find(key);
    if (it == holding.end()) return;
    parent->send({{"forkipc", "reply"}, {"id", it->second.first}, {"body", {{"pid", ::getpid()}, {"most", most}}}});
    it->second.second->cancel();
    holding.erase(it);
  };
  parent->on("message", [&](const forkipc::json& m) {
    if (!m.is_object() || m.value("forkipc", "") != "request") return;
    const forkipc::json& body = m.at("body");
    const std::uint64_t key = next++;
    auto timer = std::make_unique<boost::asio::steady_timer>(io, std::chrono::milliseconds(body.at("ms").get<int>()));
    timer->async_wait([&, key](boost::system::error_code ec) {
      if (!ec) answer(key);
    });
    holding.emplace(key, std::make_pair(m.at("id"), std::move(timer)));
    most = std::max(most, holding.size());
    if (holding.size() >= body.at("until").get<std::size_t>()) {
      while (!holding.empty()) answer(holding.begin()->first);
    }
  });
  io.run();
  return 0;
}
