// The "sum" web server: an HTTP/1.1 server whose /sum route computes in child processes.
//
//   GET /sum        200 "sumRes is 4999950000" (the sum of 0..99999, computed in a child)
//   GET /sum?n=K    the sum of 0..K-1, for 0 <= K <= 10^9; any other query is a 400
//   GET /stats      in pool mode, the pools' counters as JSON (forkipc::pool_stats, added up over
//                   the threads: threads, workers, in_flight, pending, completed, failed, timed_out,
//                   rejected, restarts, recycled; latency_p50_us and latency_p99_us, the largest of
//                   the threads'); 404 in per-request mode
//
// --mode pool (the default) keeps --workers children and reuses them (forkipc::pool).
// --mode per-request mirrors the seed step by step: a child forked for each request, told
// "开始计算", answered from its "message" (or with a 500 "error" from its "close" when no message
// came), and then disconnected, so that it exits: unlike the seed, no process is left behind.
// A crashed child gives 500, one slower than --timeout 504.
// --zygote starts the children from a forkipc::zygote of sum_child (one per thread): each child
// is then a fork of a started program, not a spawn (Linux only). SIGINT or SIGTERM: stop accepting,
// finish what is in flight, let the children exit, and exit 0.
//
// --threads N (default: one per core) serves HTTP on N threads, each an io_context with a
// listening socket of its own on the same port (SO_REUSEPORT: the kernel spreads connections
// over them) and, in pool mode, a pool of its own with its share of the workers: nothing is
// shared between threads but the port, so no request waits on a lock or a hand-over. A
// connection that sends no request for --idle-timeout (60 s), or does not read its answer
// within it, is closed.
#include <forkipc/forkipc.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
// Coroutines, sockets and timers on the io_context's own executor type, not the polymorphic
// any_io_executor: each operation then costs no type-erased executor copies.
using executor = asio::io_context::executor_type;
template <class T>
using awaitable = asio::awaitable<T, executor>;
constexpr asio::use_awaitable_t<executor> use_awaitable;
using socket_type = asio::basic_stream_socket<tcp, executor>;
using acceptor_type = asio::basic_socket_acceptor<tcp, executor>;
using timer_type = asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, executor>;

using forkipc::json;

namespace {

constexpr std::uint64_t largest_n = 1'000'000'000;

struct config {
  enum class mode { pool, per_request } mode = mode::pool;
  std::size_t workers = 0;  // 0: one per core
  std::size_t threads = 0;  // 0: one per core
  unsigned short port = 3000;
  std::filesystem::path child;
  std::chrono::milliseconds timeout{10'000};
  // Requests one worker holds at once; 0: unbounded. The sums are short and alike, so the next
  // requests are sent before the last is answered: what one turn of the loop asks of a worker
  // leaves in one sendmsg and wakes it once (twice the throughput of one at a time here).
  std::size_t max_in_flight = 0;
  // How long a connection may wait for its next request, or take to read an answer.
  std::chrono::milliseconds idle_timeout{60'000};
  bool zygote = false;  // children forked by a zygote of sum_child
};

const char* const usage =
    "usage: sum_server [--mode pool|per-request] [--workers N] [--threads N] [--port P] [--child PATH]\n"
    "                  [--timeout MS] [--idle-timeout MS] [--max-in-flight N] [--zygote]\n";

template <class Number>
Number parse_number(std::string_view option, std::string_view text) {
  Number value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    throw std::invalid_argument(std::string(option) + " takes a number, not \"" + std::string(text) + "\"");
  return value;
}

config parse_arguments(int argc, char** argv) {
  config c;
  c.child = std::filesystem::canonical("/proc/self/exe").parent_path() / "sum_child";
  for (int i = 1; i < argc; ++i) {
    const std::string_view option = argv[i];
    if (option == "--help" || option == "-h") {
      std::cout << usage;
      std::exit(0);
    }
    if (option == "--zygote") {
      c.zygote = true;
      continue;
    }
    if (i + 1 >= argc) throw std::invalid_argument(std::string(option) + " needs a value");
    const std::string_view value = argv[++i];
    if (option == "--mode") {
      if (value == "pool") c.mode = config::mode::pool;
      else if (value == "per-request") c.mode = config::mode::per_request;
      else throw std::invalid_argument("--mode is pool or per-request, not \"" + std::string(value) + "\"");
    } else if (option == "--workers") {
      c.workers = parse_number<std::size_t>(option, value);
    } else if (option == "--threads") {
      c.threads = parse_number<std::size_t>(option, value);
      if (c.threads == 0) throw std::invalid_argument("--threads takes 1 or more");
    } else if (option == "--port") {
      c.port = parse_number<unsigned short>(option, value);
    } else if (option == "--child") {
      c.child = value;
    } else if (option == "--timeout") {
      c.timeout = std::chrono::milliseconds(parse_number<unsigned>(option, value));
    } else if (option == "--max-in-flight") {
      c.max_in_flight = parse_number<std::size_t>(option, value);
    } else if (option == "--idle-timeout") {
      c.idle_timeout = std::chrono::milliseconds(parse_number<unsigned>(option, value));
      if (c.idle_timeout.count() == 0) throw std::invalid_argument("--idle-timeout takes 1 or more");
    } else {
      throw std::invalid_argument("unknown option " + std::string(option));
    }
  }
  return c;
}

// What one HTTP request asks for: a sum, or an answer given without computing.
struct sum_request {
  std::optional<std::uint64_t> n;  // none: the seed's default
};
struct stats_request {};
struct answer {
  http::status status;
  std::string body;
  std::string_view content_type = "text/plain; charset=utf-8";
};

std::variant<sum_request, stats_request, answer> route(const http::request<http::string_body>& request) {
  const beast::string_view beast_target = request.target();
  const std::string_view target(beast_target.data(), beast_target.size());
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  if (path == "/stats" && request.method() == http::verb::get && question == std::string_view::npos)
    return stats_request{};
  if (path != "/sum") return answer{http::status::not_found, "not found: " + std::string(path) + "\n"};
  if (request.method() != http::verb::get)
    return answer{http::status::method_not_allowed, "only GET is allowed on /sum\n"};
  if (question == std::string_view::npos || question + 1 == target.size()) return sum_request{};
  const std::string_view query = target.substr(question + 1);
  if (!query.starts_with("n="))
    return answer{http::status::bad_request, "the only parameter of /sum is n, as in /sum?n=100000\n"};
  const std::string_view digits = query.substr(2);
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || n > largest_n) {
    return answer{http::status::bad_request,
                  "n must be a whole number from 0 to 1000000000, not \"" + std::string(digits) + "\"\n"};
  }
  return sum_request{n};
}

answer sum_answer(const json& sum) { return {http::status::ok, "sumRes is " + sum.dump()}; }

// Computes sums in children: either strategy answers a sum_request with an HTTP answer.
class summer {
 public:
  virtual ~summer() = default;
  virtual awaitable<answer> sum(sum_request request) = 0;
  // The pool's counters, or nullopt where there is no pool.
  virtual std::optional<forkipc::pool_stats> stats() const { return std::nullopt; }
  virtual void close() = 0;
};

class pool_summer final : public summer {
 public:
  pool_summer(asio::io_context& io, const config& c, std::size_t workers)
      : pool_(io, c.child.string(), {},
              {.workers = workers, .request_timeout = c.timeout, .max_in_flight_per_worker = c.max_in_flight,
               .zygote = c.zygote}) {}

  awaitable<answer> sum(sum_request request) override {
    const json message = request.n ? json{{"n", *request.n}} : json("开始计算");
    const auto [ec, reply] = co_await pool_.async_request(message, use_awaitable);
    if (!ec) co_return sum_answer(reply);
    if (ec == std::errc::timed_out) co_return answer{http::status::gateway_timeout, "the sum took too long\n"};
    co_return answer{http::status::internal_server_error, "error: " + ec.message() + "\n"};
  }

  std::optional<forkipc::pool_stats> stats() const override { return pool_.stats(); }

  void close() override { pool_.close(); }

 private:
  forkipc::pool pool_;
};

class per_request_summer final : public summer {
 public:
  per_request_summer(asio::io_context& io, const config& c) : io_(io), config_(c) {
    if (c.zygote) zygote_.emplace(io, c.child.string(), std::vector<std::string>{}, options());
  }

  // The seed's handler, step by step: fork, send, answer from "message" or from "close".
  awaitable<answer> sum(sum_request request) override {
    struct outcome {
      explicit outcome(asio::io_context& io) : settled(io, timer_type::time_point::max()) {}
      std::optional<json> message;
      timer_type settled;  // cancelled by the first of "message" and "close"
    };
    // The listeners outlive this coroutine (the child closes after it answered): they share.
    auto state = std::make_shared<outcome>(io_);
    std::shared_ptr<forkipc::child_process> child;
    try {
      child = start_child();
    } catch (const forkipc::error& e) {  // out of processes or descriptors, say: this request fails
      co_return answer{http::status::internal_server_error, "error: " + std::string(e.what()) + "\n"};
    }
    child->on("message", [state](const json& m) {
      if (!state->message) state->message = m;
      state->settled.cancel();
    });
    child->on("close", [state] { state->settled.cancel(); });
    child->on("error", [](const forkipc::error& e) { std::cerr << "sum_child: " << e.what() << "\n"; });
    child->send(request.n ? json{{"n", *request.n}} : json("开始计算"));

    boost::system::error_code ignored;
    co_await state->settled.async_wait(asio::redirect_error(use_awaitable, ignored));
    child->disconnect();  // the seed's missing step: the child sees its channel end, and exits
    if (state->message) co_return sum_answer(*state->message);
    if (child->killed()) co_return answer{http::status::gateway_timeout, "the sum took too long\n"};
    co_return answer{http::status::internal_server_error, "error"};
  }

  void close() override { zygote_.reset(); }  // each child is disconnected once it answered

 private:
  forkipc::fork_options options() const { return {.timeout = config_.timeout}; }

  // Spawned, or forked by the zygote; a zygote that has ended (killed, say) is started again.
  std::shared_ptr<forkipc::child_process> start_child() {
    if (!zygote_) return forkipc::fork(io_, config_.child.string(), {}, options());
    try {
      return zygote_->fork();
    } catch (const forkipc::error& e) {
      if (e.code() != forkipc::errc::channel_closed) throw;
    }
    zygote_.emplace(io_, config_.child.string(), std::vector<std::string>{}, options());
    return zygote_->fork();
  }

  asio::io_context& io_;
  const config& config_;
  std::optional<forkipc::zygote> zygote_;
};

// The open connections, so that a stop can close those waiting for a request.
struct connection {
  explicit connection(socket_type s) : socket(std::move(s)) {}
  socket_type socket;
  bool busy = false;  // reading, computing or writing a request
  // The sweep closes the connection past it: set while waiting for a request and while writing
  // an answer (computing is bounded by the pool's timeout).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

// How often each thread looks for connections past their deadline (at most a second, and a
// tenth of --idle-timeout). One timer for all of them, rather than one per read and write
// (beast::tcp_stream's way), which costs a timer start and cancellation per operation.
std::chrono::milliseconds sweep_period(const config& c) {
  return std::min<std::chrono::milliseconds>(std::chrono::seconds(1), std::max<std::chrono::milliseconds>(c.idle_timeout / 10, std::chrono::milliseconds(1)));
}

// One thread's share of the server: its io_context, its listening socket and its summer. Every
// member but stats() and stop() is for its own thread.
class server {
 public:
  // workers: this share's pool workers (pool mode). port 0 picks a free one; the other shares
  // then listen on the port the first one got.
  server(const config& c, std::size_t workers, unsigned short port)
      : io_(1), config_(c), acceptor_(io_) {
    if (config_.mode == config::mode::pool) {
      summer_ = std::make_unique<pool_summer>(io_, config_, workers);
    } else {
      summer_ = std::make_unique<per_request_summer>(io_, config_);
    }
    listen(port);
    asio::co_spawn(io_, accept_loop(), asio::detached);
    asio::co_spawn(io_, sweep_loop(), asio::detached);
  }

  asio::io_context& io() { return io_; }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }

  // Every share, for /stats (set once, before the threads run).
  void set_shares(const std::vector<std::unique_ptr<server>>* shares) { shares_ = shares; }

  // Any thread: stop accepting; close idle connections; busy ones close after their answer.
  void stop() {
    asio::post(io_, [this] {
      if (stopping_) return;
      stopping_ = true;
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      sweep_timer_.cancel();
      for (const auto& c : connections_)
        if (!c->busy) c->socket.shutdown(tcp::socket::shutdown_both, ignored);
      summer_->close();
    });
  }

 private:
  awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      socket_type socket = co_await acceptor_.async_accept(asio::redirect_error(use_awaitable, ec));
      if (stopping_) co_return;
      if (ec) continue;  // a connection that failed before we took it: nothing to answer
      socket.set_option(tcp::no_delay(true));
      asio::co_spawn(io_, session(std::make_shared<connection>(std::move(socket))), asio::detached);
    }
  }

  // Closes the connections past their deadline: a read or write on them then ends with an error,
  // and their sessions end.
  awaitable<void> sweep_loop() {
    while (!stopping_) {
      sweep_timer_.expires_after(sweep_period(config_));
      boost::system::error_code ec;
      co_await sweep_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
      const auto now = std::chrono::steady_clock::now();
      for (const auto& c : connections_) {
        boost::system::error_code ignored;
        if (c->deadline <= now) c->socket.close(ignored);
      }
    }
  }

  void listen(unsigned short port) {
    // Both IPv6 and IPv4 where the machine has IPv6 (curl tries localhost as ::1 first).
    boost::system::error_code ec;
    acceptor_.open(tcp::v6(), ec);
    if (!ec) acceptor_.set_option(asio::ip::v6_only(false), ec);
    if (ec) {  // no IPv6, or no dual stack: IPv4 only
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      acceptor_.open(tcp::v4());
    }
    const tcp::endpoint endpoint(ec ? tcp::v4() : tcp::v6(), port);
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    // Every thread's socket listens on the same port; the kernel balances connections over them.
    acceptor_.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
  }

  awaitable<void> session(std::shared_ptr<connection> c) {
    const auto self = connections_.insert(connections_.end(), c);
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 * 1024);
      boost::system::error_code ec;
      c->deadline = std::chrono::steady_clock::now() + config_.idle_timeout;  // an idle keep-alive connection ends
      co_await http::async_read(c->socket, buffer, parser, asio::redirect_error(use_awaitable, ec));
      c->deadline = std::chrono::steady_clock::time_point::max();
      if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
          ec == asio::error::bad_descriptor || ec == asio::error::connection_reset || ec == asio::error::eof) {
        break;
      }
      c->busy = true;
      http::response<http::string_body> response;
      if (ec) {  // a malformed request: say so, and close this connection only
        response = make_response(http::status::bad_request, "bad request: " + ec.message() + "\n", 11, false);
      } else {
        const auto& request = parser.get();
        auto routed = route(request);
        answer result;
        if (auto* sum = std::get_if<sum_request>(&routed)) {
          result = co_await summer_->sum(*sum);
        } else if (std::holds_alternative<stats_request>(routed)) {
          result = co_await stats_answer();
        } else {
          result = std::get<answer>(std::move(routed));
        }
        response = make_response(result.status, result.body, request.version(), request.keep_alive() && !stopping_,
                                 result.content_type);
      }
      c->deadline = std::chrono::steady_clock::now() + config_.idle_timeout;
      co_await http::async_write(c->socket, response, asio::redirect_error(use_awaitable, ec));
      c->deadline = std::chrono::steady_clock::time_point::max();
      c->busy = false;
      if (ec || !response.keep_alive() || stopping_) break;
    }
    boost::system::error_code ignored;
    c->socket.shutdown(tcp::socket::shutdown_send, ignored);
    connections_.erase(self);
  }

  // The counters of every share's pool, each read on its own thread, added up.
  awaitable<answer> stats_answer() {
    std::vector<forkipc::pool_stats> each;
    for (const auto& share : *shares_) {
      auto s = co_await asio::co_spawn(
          share->io_, [&share]() -> awaitable<std::optional<forkipc::pool_stats>> { co_return share->summer_->stats(); },
          use_awaitable);
      if (!s) co_return answer{http::status::not_found, "not found: /stats (the pool's counters, in pool mode only)\n"};
      each.push_back(*s);
    }
    json body = {{"threads", each.size()}};
    const auto add = [&](const char* name, std::size_t forkipc::pool_stats::*field) {
      std::size_t total = 0;
      for (const auto& s : each) total += s.*field;
      body[name] = total;
    };
    add("workers", &forkipc::pool_stats::workers);
    add("in_flight", &forkipc::pool_stats::in_flight);
    add("pending", &forkipc::pool_stats::pending);
    add("completed", &forkipc::pool_stats::completed);
    add("failed", &forkipc::pool_stats::failed);
    add("timed_out", &forkipc::pool_stats::timed_out);
    add("rejected", &forkipc::pool_stats::rejected);
    add("restarts", &forkipc::pool_stats::restarts);
    add("recycled", &forkipc::pool_stats::recycled);
    // Percentiles do not add up: the largest of the threads' figures, an upper bound of the
    // whole server's (no more than 1% of all requests can be slower than every thread's p99).
    std::chrono::microseconds p50{0}, p99{0};
    for (const auto& s : each) {
      p50 = std::max(p50, s.latency_p50);
      p99 = std::max(p99, s.latency_p99);
    }
    body["latency_p50_us"] = p50.count();
    body["latency_p99_us"] = p99.count();
    co_return answer{http::status::ok, body.dump() + "\n", "application/json"};
  }

  static http::response<http::string_body> make_response(http::status status, std::string body,
                                                         unsigned version, bool keep_alive,
                                                         std::string_view content_type = "text/plain; charset=utf-8") {
    http::response<http::string_body> response(status, version);
    response.set(http::field::server, "forkipc sum_server");
    response.set(http::field::content_type, beast::string_view(content_type.data(), content_type.size()));
    if (status == http::status::method_not_allowed) response.set(http::field::allow, "GET");
    response.keep_alive(keep_alive);
    response.body() = std::move(body);
    response.prepare_payload();
    return response;
  }

  asio::io_context io_;
  const config& config_;
  acceptor_type acceptor_;
  timer_type sweep_timer_{io_};
  std::unique_ptr<summer> summer_;
  std::list<std::shared_ptr<connection>> connections_;
  const std::vector<std::unique_ptr<server>>* shares_ = nullptr;
  bool stopping_ = false;
};

std::size_t one_per_core() { return std::max(1u, std::thread::hardware_concurrency()); }

}  // namespace

int main(int argc, char** argv) {
  config c;
  try {
    c = parse_arguments(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "sum_server: " << e.what() << "\n" << usage;
    return 2;
  }
  // Each thread's pool gets its share of the workers, at least one.
  const std::size_t workers = c.workers != 0 ? c.workers : one_per_core();
  std::size_t threads = c.threads != 0 ? c.threads : one_per_core();
  if (c.mode == config::mode::pool) threads = std::min(threads, workers);

  std::vector<std::unique_ptr<server>> shares;
  std::optional<asio::signal_set> signals;  // on the first share's loop
  std::mutex failure_mutex;
  std::optional<std::string> failure;
  const auto stop_all = [&] {
    for (const auto& share : shares) share->stop();
    // A failure stops the server too: the signals are no longer awaited then.
    asio::post(shares.front()->io(), [&] { signals->cancel(); });
  };
  // Runs one share's loop until the stop, what was in flight, and its children are done.
  const auto run = [&](server& share) {
    try {
      share.io().run();
    } catch (const std::exception& e) {
      const std::lock_guard lock(failure_mutex);
      if (!failure) failure = e.what();
      stop_all();
    }
  };
  try {
    for (std::size_t i = 0; i < threads; ++i) {
      const unsigned short port = shares.empty() ? c.port : shares.front()->port();
      shares.push_back(std::make_unique<server>(c, workers / threads + (i < workers % threads ? 1 : 0), port));
    }
    for (const auto& share : shares) share->set_shares(&shares);
  } catch (const std::exception& e) {
    std::cerr << "sum_server: " << e.what() << "\n";
    return 1;
  }
  signals.emplace(shares.front()->io(), SIGINT, SIGTERM);
  signals->async_wait([&](boost::system::error_code ec, int) {
    if (!ec) stop_all();
  });
  std::cout << "server running at port " << shares.front()->port() << std::endl;
  std::vector<std::thread> others;  // not jthread: libc++ before 18 has none
  for (std::size_t i = 1; i < shares.size(); ++i) others.emplace_back([&, i] { run(*shares[i]); });
  run(*shares.front());
  for (std::thread& other : others) other.join();
  if (failure) {
    std::cerr << "sum_server: " << *failure << "\n";
    return 1;
  }
  return 0;
}
