// forkipc::pool and forkipc::serve: a pool of reused worker processes, and the worker's loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <forkipc/detail/export.hpp>
#include <forkipc/detail/asio.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <forkipc/fork_options.hpp>
#include <forkipc/json.hpp>

namespace forkipc {

/// How a pool starts and treats its workers. Every field is optional (designated-initializer
/// friendly). The defaults give one worker per core, each given one request at a time (the rest
/// wait in the pool, unbounded, so a slow request delays only itself), no timeout, and no
/// recycling.
struct pool_options {
  /// How many workers; 0: one per CPU core.
  std::size_t workers = 0;
  /// How each worker is started.
  fork_options fork{};
  /// 0: none. Otherwise a request not answered this long after a worker took it completes with
  /// std::errc::timed_out, and its worker is replaced (see pool). The time a request waits in
  /// the pool for a free worker does not count: max_pending bounds that wait.
  /// request_options::timeout overrides it per request.
  std::chrono::milliseconds request_timeout{0};
  /// 0: unbounded. Otherwise at most this many requests wait in the pool for a worker with room
  /// (see max_in_flight_per_worker); a request past it completes at once with errc::pool_busy,
  /// and nothing is sent.
  std::size_t max_pending = 0;
  /// 0: never recycle. Otherwise a worker that was given this many requests is retired
  /// gracefully, as Python's maxtasksperchild: it takes no new request, a replacement starts at
  /// once, and once it has answered what it holds it is disconnected, which ends its serve()
  /// loop. No request fails because of recycling. Counted in pool_stats::recycled and restarts.
  std::size_t max_requests_per_worker = 0;
  /// How many requests one worker holds at once (sent and not yet answered); further requests
  /// wait in the pool, bounded by max_pending, and go in order to the least loaded worker with
  /// room. The default, 1, suits serve(), which answers one request at a time: a request waits
  /// in the parent until a worker is free, so a slow request delays no other. Raise it for
  /// workers that answer concurrently, or for many short, uniform requests, where sending the
  /// next before the last is answered saves a wake-up per request (the sum server); then a slow
  /// request delays those queued behind it on its worker. 0: unbounded.
  std::size_t max_in_flight_per_worker = 1;
  /// Start the workers from a forkipc::zygote of the program (see zygote.hpp) instead of
  /// spawning each: the program's start-up runs once, and every later start (a replacement
  /// after a crash or a timeout, recycling with max_requests_per_worker, resize()) costs a fork.
  /// The zygote starts with the pool, ends when the pool closes, and is started again if it has
  /// ended. The workers share what the program initialised before its first call into forkipc
  /// (re-seed random generators in serve()'s handler or after that call). The linux backend
  /// only: elsewhere the pool's constructor throws std::errc::not_supported.
  bool zygote = false;
};

/// Options of one request, for pool::async_request(message, options, token).
struct request_options {
  /// nullopt: pool_options::request_timeout applies. Otherwise this request's timeout instead of
  /// the pool's: 0 means none, even when the pool has one. It counts from when a worker takes
  /// the request, as the pool's does. When it passes, the request completes with
  /// std::errc::timed_out and its worker is replaced, as with the pool's timeout.
  std::optional<std::chrono::milliseconds> timeout;
};

/// A snapshot of a pool's counters, from pool::stats(). The counters count since the pool was
/// made. Every request given to async_request is either rejected or accepted, and an accepted one
/// is pending, in flight, or settled as exactly one of completed, failed and timed_out:
///   accepted = pending + in_flight + completed + failed + timed_out.
struct pool_stats {
  /// Workers alive and taking requests: pool::size().
  std::size_t workers = 0;
  /// Requests sent to a worker and not yet settled.
  std::size_t in_flight = 0;
  /// Requests answered with a reply (no error).
  std::size_t completed = 0;
  /// Accepted requests that ended with an error other than a timeout: errc::request_failed,
  /// errc::worker_exited, or an operating-system error (no worker could be started).
  std::size_t failed = 0;
  /// Requests that ended with std::errc::timed_out.
  std::size_t timed_out = 0;
  /// Workers started in place of others: after a worker ended, was retired as stuck (a timeout),
  /// or was recycled (max_requests_per_worker). The first workers and resize() growth are not
  /// restarts.
  std::size_t restarts = 0;
  /// Requests waiting in the pool for a worker (see pool_options::max_pending).
  std::size_t pending = 0;
  /// Requests refused at once: errc::pool_busy (max_pending) and errc::pool_closed (after
  /// close()). They count in no other field.
  std::size_t rejected = 0;
  /// Workers retired because they reached pool_options::max_requests_per_worker.
  std::size_t recycled = 0;
  /// The median time from async_request to the reply, over the completed requests; 0 while none
  /// completed. Read from a fixed log-scale histogram (8 buckets per doubling, from 1 us to
  /// about 12 days; no allocation per request), as the upper end of a bucket: at most 12.5% above
  /// the true value counted in whole microseconds, never below it.
  std::chrono::microseconds latency_p50{0};
  /// The 99th percentile of the same times, as latency_p50.
  std::chrono::microseconds latency_p99{0};
};

class FORKIPC_API pool;  // exported: see forkipc/detail/export.hpp

/// N worker processes of one program, each running forkipc::serve() (or anything that speaks
/// the envelope below), kept alive and reused for every request.
///
/// Requests. async_request(message, token) sends message to the live worker with the fewest
/// requests in flight, among those with room (pool_options::max_in_flight_per_worker: one by
/// default); replies are matched by id. When no worker has room, the request waits in the pool
/// (bounded by pool_options::max_pending) and goes, in order, to the first worker with room.
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
/// - std::errc::timed_out: the request's timeout (request_options::timeout, else
///   pool_options::request_timeout) passed since a worker took it. The worker is retired, as it
///   may be stuck: it gets no new request, a replacement starts at once, and once the worker's
///   other requests are settled it is sent fork_options::kill_signal; at the latest, when as long
///   again has passed, it is sent the signal anyway, and the requests still on it (those without
///   a timeout of their own too) fail with errc::worker_exited;
/// - errc::pool_busy: pool_options::max_pending requests already wait; completes at once;
/// - errc::pool_closed: the request came after close();
/// - an operating-system error: no worker is alive and a new one could not be started.
///
/// A worker that ends for any reason is replaced: at once, or after a back-off (100 ms, doubling
/// to 5 s) while workers keep dying within a second of their start without answering a request,
/// so a broken program does not fork in a tight loop. A worker retired on purpose (recycled after
/// pool_options::max_requests_per_worker, or removed by resize()) is disconnected once it has
/// answered what it holds, so no request fails because of it. Every worker is reaped.
///
/// The envelope on the wire, for writing a worker in another language (a Node script, say):
///
///     request: {"forkipc": "request", "id": <integer>, "body": <the message>}
///     reply:   {"forkipc": "reply", "id": <the same>, "body": <the answer>}
///     failure: {"forkipc": "error", "id": <the same>, "message": <a string>}
///
/// Any other message from a worker is ignored. A worker ends when its channel closes. Nothing
/// else travels: readiness, recycling and resizing add no message, so a Node worker needs
/// nothing more than these three shapes.
///
/// All of pool's members are for the io_context's thread (or before it runs).
class pool {
 public:
  /// Starts the workers. Throws as forkipc::fork() does when the program cannot be started.
  pool(boost::asio::io_context& io, std::string module_path, std::vector<std::string> args = {},
       pool_options options = {});
  /// close(): the pool's work goes on after it, on the io_context, until the workers are gone.
  ~pool();
  /// Not copyable: a pool owns its worker processes.
  pool(const pool&) = delete;
  /// Not copyable.
  pool& operator=(const pool&) = delete;

  /// Sends message to the live worker with the fewest requests in flight, and completes with
  /// (std::error_code, json reply) through token (a callback, use_future, use_awaitable, ...;
  /// see the class notes for the errors). The completion runs on the handler's associated
  /// executor (the pool's io_context by default), never inside async_request itself, not even
  /// for errc::pool_busy or errc::pool_closed, which complete at once.
  template <class CompletionToken>
  auto async_request(const json& message, CompletionToken&& token) {
    return async_request(message, request_options{}, std::forward<CompletionToken>(token));
  }

  /// As async_request(message, token), with this request's options (its own timeout:
  /// `pool.async_request(m, {.timeout = std::chrono::seconds(2)}, token)`).
  template <class CompletionToken>
  auto async_request(const json& message, request_options options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::error_code, json)>(
        [this](auto handler, const json& request, const request_options& o) {
          submit(request, o, wrap<std::error_code, json>(std::move(handler)));
        },
        token, message, options);
  }

  /// Completes with no error once every worker the pool should have is up: started (its program
  /// was executed, which forkipc::fork() knows when it returns), its "spawn" event delivered and
  /// its channel open. It does not prove the program has reached serve(): a request sent sooner
  /// waits in the worker's channel, so readiness needs no message that a worker would have to
  /// answer (a Node worker is up as soon as a forkipc one). It waits for the replacements of
  /// ended workers, their back-off included, and for the growth of resize().
  /// Errors: errc::pool_closed once close() was called; the operating-system error of a worker
  /// that could not be started (the pool goes on trying, after its back-off).
  /// Signature void(std::error_code); completes on the io_context, never inside this call.
  template <class CompletionToken>
  auto async_wait_ready(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::error_code)>(
        [this](auto handler) { wait_ready(wrap<std::error_code>(std::move(handler))); }, token);
  }

  /// Sets the number of workers, at run time; 0 means one per CPU core, as in pool_options.
  /// Growing starts the new workers now (async_wait_ready() tells when they are up). Shrinking
  /// retires the workers with the fewest requests in flight (replacements not yet started are
  /// dropped first): they take no new request, answer what they hold, and are disconnected,
  /// which ends their serve() loop; no request fails because of it.
  /// Throws forkipc::error: errc::pool_closed after close(); or the operating-system error of a
  /// worker that could not be started, in which case the workers that did start are kept and
  /// the pool's size is what it reached.
  void resize(std::size_t workers);
  /// As resize(workers), with the error in ec instead of thrown (ec is cleared on success).
  void resize(std::size_t workers, std::error_code& ec);

  /// Takes no more requests (they complete with errc::pool_closed), serves every request it
  /// accepted (those still waiting for a worker too, replacing workers that end meanwhile),
  /// then disconnects each worker, which exits. The io_context runs until they have.
  void close();

  /// The workers alive and taking requests.
  std::size_t size() const noexcept;

  /// The pool's counters now (see pool_stats). Cheap: no allocation, no system call.
  pool_stats stats() const noexcept;

 private:
  // The completion runs the handler on its associated executor, never inside the initiating call.
  template <class... Args, class Handler>
  std::function<void(Args...)> wrap(Handler handler) {
    auto executor = boost::asio::get_associated_executor(handler, io_.get_executor());
    auto state = std::make_shared<std::pair<Handler, boost::asio::executor_work_guard<decltype(executor)>>>(
        std::move(handler), boost::asio::make_work_guard(executor));
    return [state](Args... args) {
      auto executor = state->second.get_executor();
      boost::asio::post(executor, [state, ... args = std::move(args)]() mutable {
        state->first(std::move(args)...);
        state->second.reset();
      });
    };
  }

  void submit(const json& message, const request_options& options, std::function<void(std::error_code, json)> done);
  void wait_ready(std::function<void(std::error_code)> done);

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
FORKIPC_API void serve(std::function<json(const json&)> handler);

}  // namespace forkipc
