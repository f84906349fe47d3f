// The "sum" web server: an HTTP/1.1 server whose /sum route computes in child processes.
//
//   GET /sum        200 "sumRes is 4999950000" (the sum of 0..99999, computed in a child)
//   GET /sum?n=K    the sum of 0..K-1, for 0 <= K <= 10^9; any other query is a 400
//   GET /stats      in pool mode, the pool's counters as JSON (forkipc::pool_stats: workers,
//                   in_flight, pending, completed, failed, timed_out, rejected, restarts, recycled,
//                   latency_p50_us, latency_p99_us); 404 in per-request mode
//
// --mode pool (the default) keeps --workers children and reuses them (forkipc::pool).
// --mode per-request mirrors the seed step by step: a child forked for each request, told
// "开始计算", answered from its "message" (or with a 500 "error" from its "close" when no message
// came), and then disconnected, so that it exits: unlike the seed, no process is left behind.
// A crashed child gives 500, one slower than --timeout 504. SIGINT or SIGTERM: stop accepting,
// finish what is in flight, let the children exit, and exit 0.
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
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using forkipc::json;

namespace {

constexpr std::uint64_t largest_n = 1'000'000'000;

struct config {
  enum class mode { pool, per_request } mode = mode::pool;
  std::size_t workers = 0;  // 0: one per core
  unsigned short port = 3000;
  std::filesystem::path child;
  std::chrono::milliseconds timeout{10'000};
};

const char* const usage =
    "usage: sum_server [--mode pool|per-request] [--workers N] [--port P] [--child PATH] [--timeout MS]\n";

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
    if (i + 1 >= argc) throw std::invalid_argument(std::string(option) + " needs a value");
    const std::string_view value = argv[++i];
    if (option == "--mode") {
      if (value == "pool") c.mode = config::mode::pool;
      else if (value == "per-request") c.mode = config::mode::per_request;
      else throw std::invalid_argument("--mode is pool or per-request, not \"" + std::string(value) + "\"");
    } else if (option == "--workers") {
      c.workers = parse_number<std::size_t>(option, value);
    } else if (option == "--port") {
      c.port = parse_number<unsigned short>(option, value);
    } else if (option == "--child") {
      c.child = value;
    } else if (option == "--timeout") {
      c.timeout = std::chrono::milliseconds(parse_number<unsigned>(option, value));
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
  pool_summer(asio::io_context& io, const config& c)
      : pool_(io, c.child.string(), {}, {.workers = c.workers, .request_timeout = c.timeout}) {}

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
  per_request_summer(asio::io_context& io, const config& c) : io_(io), config_(c) {}

  // The seed's handler, step by step: fork, send, answer from "message" or from "close".
  awaitable<answer> sum(sum_request request) override {
    struct outcome {
      explicit outcome(asio::io_context& io) : settled(io, asio::steady_timer::time_point::max()) {}
      std::optional<json> message;
      asio::steady_timer settled;  // cancelled by the first of "message" and "close"
    };
    // The listeners outlive this coroutine (the child closes after it answered): they share.
    auto state = std::make_shared<outcome>(io_);
    auto child = forkipc::fork(io_, config_.child.string(), {}, {.timeout = config_.timeout});
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

  void close() override {}  // each child is disconnected once it answered

 private:
  asio::io_context& io_;
  const config& config_;
};

// The open connections, so that a stop can close those waiting for a request.
struct connection {
  explicit connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool busy = false;  // reading, computing or writing a request
};

class server {
 public:
  server(asio::io_context& io, config c) : io_(io), config_(std::move(c)), acceptor_(io) {
    if (config_.mode == config::mode::pool) {
      summer_ = std::make_unique<pool_summer>(io, config_);
    } else {
      summer_ = std::make_unique<per_request_summer>(io, config_);
    }
    listen();
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }

  awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(use_awaitable, ec));
      if (stopping_) co_return;
      if (ec) continue;  // a connection that failed before we took it: nothing to answer
      socket.set_option(tcp::no_delay(true));
      asio::co_spawn(io_, session(std::make_shared<connection>(std::move(socket))), asio::detached);
    }
  }

  // Stop accepting; close idle connections; busy ones close after their answer.
  void stop() {
    if (stopping_) return;
    stopping_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (const auto& c : connections_)
      if (!c->busy) c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    summer_->close();
  }

 private:
  void listen() {
    // Both IPv6 and IPv4 where the machine has IPv6 (curl tries localhost as ::1 first).
    boost::system::error_code ec;
    acceptor_.open(tcp::v6(), ec);
    if (!ec) acceptor_.set_option(asio::ip::v6_only(false), ec);
    const tcp::endpoint endpoint = ec ? tcp::endpoint(tcp::v4(), config_.port) : tcp::endpoint(tcp::v6(), config_.port);
    if (ec) {
      acceptor_ = tcp::acceptor(io_);
      acceptor_.open(tcp::v4());
    }
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
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
      c->stream.expires_after(std::chrono::seconds(60));  // an idle keep-alive connection ends
      co_await http::async_read(c->stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
          ec == beast::error::timeout || ec == asio::error::connection_reset || ec == asio::error::eof) {
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
          result = stats_answer();
        } else {
          result = std::get<answer>(std::move(routed));
        }
        response = make_response(result.status, result.body, request.version(), request.keep_alive() && !stopping_,
                                 result.content_type);
      }
      c->stream.expires_after(std::chrono::seconds(60));
      co_await http::async_write(c->stream, response, asio::redirect_error(use_awaitable, ec));
      c->busy = false;
      if (ec || !response.keep_alive() || stopping_) break;
    }
    boost::system::error_code ignored;
    c->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    connections_.erase(self);
  }

  answer stats_answer() const {
    const auto s = summer_->stats();
    if (!s) return {http::status::not_found, "not found: /stats (the pool's counters, in pool mode only)\n"};
    const json body = {{"workers", s->workers},       {"in_flight", s->in_flight},
                       {"pending", s->pending},       {"completed", s->completed},
                       {"failed", s->failed},         {"timed_out", s->timed_out},
                       {"rejected", s->rejected},     {"restarts", s->restarts},
                       {"recycled", s->recycled},     {"latency_p50_us", s->latency_p50.count()},
                       {"latency_p99_us", s->latency_p99.count()}};
    return {http::status::ok, body.dump() + "\n", "application/json"};
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

  asio::io_context& io_;
  config config_;
  tcp::acceptor acceptor_;
  std::unique_ptr<summer> summer_;
  std::list<std::shared_ptr<connection>> connections_;
  bool stopping_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  config c;
  try {
    c = parse_arguments(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "sum_server: " << e.what() << "\n" << usage;
    return 2;
  }
  try {
    asio::io_context io;
    server s(io, c);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int) {
      if (!ec) s.stop();
    });
    asio::co_spawn(io, s.accept_loop(), asio::detached);
    std::cout << "server running at port " << s.port() << std::endl;
    io.run();  // until the stop, what was in flight, and the children are done
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sum_server: " << e.what() << "\n";
    return 1;
  }
}
