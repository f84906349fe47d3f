// forkipc::pool and forkipc::serve: a pool of reused worker processes, and the worker's loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <forkipc/detail/asio.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <forkipc/fork_options.hpp>
#include <forkipc/json.hpp>

namespace forkipc {

/// How a pool starts and treats its workers.
struct pool_options {
  /// How many workers; 0: one per CPU core.
  std::size_t workers = 0;
  /// How each worker is started.
  fork_options fork{};
  /// 0: none. Otherwise a request not answered in this time completes with std::errc::timed_out,
  /// and its worker is replaced (see pool).
  std::chrono::milliseconds request_timeout{0};
};

/// N worker processes of one program, each running forkipc::serve() (or anything that speaks
/// the envelope below), kept alive and reused for every request.
///
/// Requests. async_request(message, token) sends message to the live worker with the fewest
/// requests in flight; any number may be in flight on one worker, and replies are matched by id.
/// It completes with (std::error_code, json) on the pool's io_context, through the token:
/// - a callback `void(std::error_code ec, forkipc::json reply)`;
/// - `boost::asio::use_future`: a `std::future<std::tuple<std::error_code, json>>`;
/// - `boost::asio::use_awaitable`: `auto [ec, reply] = co_await pool.async_request(m, use_awaitable);`
/// (Boost 1.74 turns a std::error_code into an exception for neither: errors are values here.)
///
/// Errors:
/// - errc::request_failed: the worker's handler threw; reply holds its message (a string);
/// - errc::worker_exited: the worker ended before it answered. Requests are never retried, not
///   even those a dying worker had not started: a request may be what killed it, and a retry
///   would then kill the next worker too. Retry yourself when your requests are idempotent;
/// - std::errc::timed_out: request_timeout passed. The worker is retired, as it may be stuck:
///   it gets no new request, a replacement starts at once, and once the worker's other requests
///   are settled it is sent fork_options::kill_signal;
/// - errc::pool_closed: the request came after close();
/// - an operating-system error: no worker is alive and a new one could not be started.
///
/// A worker that ends for any reason is replaced: at once, or after a back-off (100 ms, doubling
/// to 5 s) while workers keep dying within a second of their start, so a broken program does
/// not fork in a tight loop. Every worker is reaped.
///
/// The envelope on the wire, for writing a worker in another language (a Node script, say):
///
///     request: {"forkipc": "request", "id": <integer>, "body": <the message>}
///     reply:   {"forkipc": "reply", "id": <the same>, "body": <the answer>}
///     failure: {"forkipc": "error", "id": <the same>, "message": <a string>}
///
/// Any other message from a worker is ignored. A worker ends when its channel closes.
///
/// All of pool's members are for the io_context's thread (or before it runs).
class pool {
 public:
  /// Starts the workers. Throws as forkipc::fork() does when the program cannot be started.
  pool(boost::asio::io_context& io, std::string module_path, std::vector<std::string> args = {},
       pool_options options = {});
  /// close(): the pool's work goes on after it, on the io_context, until the workers are gone.
  ~pool();
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  /// Sends message to the live worker with the fewest requests in flight, and completes with
  /// (std::error_code, json reply) through token (a callback, use_future, use_awaitable, ...;
  /// see the class notes for the errors). The completion runs on the handler's associated
  /// executor (the pool's io_context by default), never inside async_request itself.
  template <class CompletionToken>
  auto async_request(const json& message, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::error_code, json)>(
        [this](auto handler, const json& request) {
          submit(request, wrap(std::move(handler)));
        },
        token, message);
  }

  /// Takes no more requests (they complete with errc::pool_closed), lets every request in flight
  /// finish, then disconnects each worker, which exits. The io_context runs until they have.
  void close();

  /// The workers alive and taking requests.
  std::size_t size() const noexcept;

 private:
  using completion = std::function<void(std::error_code, json)>;

  // The completion runs the handler on its associated executor, never inside async_request.
  template <class Handler>
  completion wrap(Handler handler) {
    auto executor = boost::asio::get_associated_executor(handler, io_.get_executor());
    auto state = std::make_shared<std::pair<Handler, boost::asio::executor_work_guard<decltype(executor)>>>(
        std::move(handler), boost::asio::make_work_guard(executor));
    return [state](std::error_code ec, json reply) {
      auto executor = state->second.get_executor();
      boost::asio::post(executor, [state, ec, reply = std::move(reply)]() mutable {
        state->first(ec, std::move(reply));
        state->second.reset();
      });
    };
  }

  void submit(const json& message, completion done);

  class impl;
  boost::asio::io_context& io_;
  std::shared_ptr<impl> impl_;
};

/// A worker's loop, in the child: answers each request from the parent with handler's return
/// value, until the parent disconnects; then returns. A request in the envelope above gets the
/// envelope's reply; any other message is answered with handler's bare return value, so that a
/// parent written as plain Node (`child.send(x); child.on("message", ...)`) can use the worker
/// too. When handler throws, the reply is the failure envelope (or {"error": what} for a bare
/// message), and the loop goes on. Throws errc::not_forked when there is no parent channel.
void serve(std::function<json(const json&)> handler);

}  // namespace forkipc
