// A cluster-style server, as Node's cluster module builds one: this process accepts TCP
// connections and hands each, as a descriptor over the channel, to one of its worker children,
// which answers on it. Usage:
//   cluster_server [--port P] [--workers N] [--worker PATH]
// --port: default 3001, 0 picks a free one; prints "server running at port P" once listening.
// --workers: default one per core. --worker: default cluster_worker beside this program.
// A worker that dies is replaced. SIGINT/SIGTERM: stop accepting, let the workers finish what
// they hold and exit, then exit 0.
#include <forkipc/forkipc.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>

#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct settings {
  unsigned short port = 3001;
  unsigned workers = std::max(1u, std::thread::hardware_concurrency());
  std::string worker = (std::filesystem::canonical("/proc/self/exe").parent_path() / "cluster_worker").string();
};

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--port") {
      s.port = static_cast<unsigned short>(std::stoul(value));
    } else if (flag == "--workers") {
      s.workers = static_cast<unsigned>(std::stoul(value));
    } else if (flag == "--worker") {
      s.worker = value;
    } else {
      throw std::invalid_argument("unknown option " + flag);
    }
  }
  if (s.workers == 0) throw std::invalid_argument("--workers must be at least 1");
  return s;
}

class cluster {
 public:
  cluster(asio::io_context& io, const settings& s)
      : io_(io), settings_(s), acceptor_(io, tcp::endpoint(tcp::v4(), s.port)), workers_(s.workers) {
    for (std::size_t slot = 0; slot < workers_.size(); ++slot) start_worker(slot);
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket connection) {
      if (stopping_) return;
      if (!ec) hand_over(std::move(connection));
      accept();
    });
  }

  void stop() {
    stopping_ = true;
    acceptor_.close();
    for (auto& worker : workers_)
      if (worker) worker->disconnect();  // each exits once it has answered what it holds
  }

 private:
  void start_worker(std::size_t slot) {
    auto worker = forkipc::fork(io_, settings_.worker);
    worker->on("exit", [this, slot](std::optional<int>, std::optional<int> signal) {
      if (stopping_) return;
      std::cerr << "cluster_server: worker " << slot << " ended"
                << (signal ? " by signal " + std::to_string(*signal) : "") << "; starting another\n";
      start_worker(slot);
    });
    worker->on("error", [](const forkipc::error& e) { std::cerr << "cluster_server: " << e.what() << "\n"; });
    workers_[slot] = std::move(worker);
  }

  // Round robin over the workers whose channel is open; the connection's descriptor leaves this
  // process with the message, and this process's copy is closed once it is written.
  void hand_over(tcp::socket connection) {
    for (std::size_t tries = 0; tries < workers_.size(); ++tries) {
      auto& worker = workers_[next_++ % workers_.size()];
      if (worker && worker->connected()) {
        worker->send({{"connection", ++handed_}}, forkipc::handle(connection.release()));
        return;
      }
    }
    // No worker can take it right now: closing it is the honest answer.
  }

  asio::io_context& io_;
  settings settings_;
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<forkipc::child_process>> workers_;
  std::size_t next_ = 0;
  std::uint64_t handed_ = 0;
  bool stopping_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    const settings s = parse(argc, argv);
    asio::io_context io;
    cluster server(io, s);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) { server.stop(); });
    server.accept();
    std::cout << "server running at port " << server.port() << std::endl;
    io.run();  // returns once every worker has ended
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "cluster_server: " << e.what() << "\n";
    return 1;
  }
}
