#include <forkipc/pool.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/steady_timer.hpp>

#include <forkipc/child_process.hpp>
#include <forkipc/error.hpp>
#include <forkipc/zygote.hpp>

#include "pool/envelope.hpp"

namespace forkipc {
namespace {

using clock = std::chrono::steady_clock;

// A worker that dies sooner than this after its start, without having answered a request,
// counts as a failed start: its replacement waits, longer each time, so that a broken program
// is not forked in a tight loop. One that answered was killed or crashed on a request: it is
// replaced at once, as the request's failure is the caller's to handle.
constexpr auto healthy_lifetime = std::chrono::seconds(1);
constexpr auto first_backoff = std::chrono::milliseconds(100);
constexpr auto longest_backoff = std::chrono::milliseconds(5000);

std::size_t one_per_core() { return std::max(1u, std::thread::hardware_concurrency()); }

// Latencies in microseconds, counted in fixed buckets so that recording one costs no allocation:
// values below 8 us have a bucket each; above, every doubling [2^k, 2^(k+1)) is split into 8
// equal buckets, up to 2^40 us (about 12 days; longer ones count in the last bucket).
class latency_histogram {
 public:
  void record(clock::duration elapsed) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    ++counts_[index_of(static_cast<std::uint64_t>(std::max<std::int64_t>(us, 0)))];
    ++total_;
  }

  // The upper bound of the bucket that holds the q-quantile (0 < q <= 1): never below the true
  // value, and at most 1/8 above it.
  std::chrono::microseconds quantile(double q) const noexcept {
    if (total_ == 0) return std::chrono::microseconds(0);
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::chrono::microseconds(upper_bound_of(i));
    }
    return std::chrono::microseconds(upper_bound_of(buckets - 1));
  }

 private:
  static constexpr unsigned sub_bits = 3;  // 8 buckets per doubling
  static constexpr unsigned top_bit = 40;
  static constexpr std::size_t buckets = (1u << sub_bits) * (top_bit - sub_bits + 1);

  static std::size_t index_of(std::uint64_t us) noexcept {
    us = std::min<std::uint64_t>(us, (std::uint64_t(1) << top_bit) - 1);
    if (us < (1u << sub_bits)) return static_cast<std::size_t>(us);
    const unsigned k = static_cast<unsigned>(std::bit_width(us)) - 1;  // 2^k <= us < 2^(k+1)
    const std::uint64_t sub = (us >> (k - sub_bits)) - (1u << sub_bits);
    return (1u << sub_bits) + (k - sub_bits) * (1u << sub_bits) + static_cast<std::size_t>(sub);
  }

  static std::uint64_t upper_bound_of(std::size_t i) noexcept {
    if (i < (1u << sub_bits)) return i;
    const unsigned k = sub_bits + static_cast<unsigned>((i - (1u << sub_bits)) >> sub_bits);
    const std::uint64_t sub = (i - (1u << sub_bits)) & ((1u << sub_bits) - 1);
    const std::uint64_t width = std::uint64_t(1) << (k - sub_bits);
    return ((1u << sub_bits) + sub) * width + width - 1;
  }

  std::array<std::uint64_t, buckets> counts_{};
  std::uint64_t total_ = 0;
};

}  // namespace

class pool::impl : public std::enable_shared_from_this<impl> {
 public:
  using completion = std::function<void(std::error_code, json)>;
  using ready_completion = std::function<void(std::error_code)>;

  impl(boost::asio::io_context& io, std::string module_path, std::vector<std::string> args,
       pool_options options)
      : io_(io), module_path_(std::move(module_path)), args_(std::move(args)), options_(std::move(options)) {
    if (options_.workers == 0) options_.workers = one_per_core();
    target_ = options_.workers;
  }

  void start() {
    try {
      for (std::size_t i = 0; i < target_; ++i) spawn_worker(false);
    } catch (...) {
      close();  // the workers already started see their channel close, and exit
      throw;
    }
  }

  void submit(const json& message, const request_options& options, completion done) {
    if (closing_) {
      ++rejected_;
      done(errc::pool_closed, nullptr);  // done posts: it never runs inside async_request
      return;
    }
    // Requests that wait go first, in order; a new one is sent at once only when none waits.
    const auto w = waiting_.empty() ? least_loaded() : nullptr;
    if (!w && options_.max_pending != 0 && waiting_.size() >= options_.max_pending) {
      ++rejected_;
      done(errc::pool_busy, nullptr);
      return;
    }
    const std::uint64_t id = next_id_++;
    request& r = requests_[id];
    r.done = std::move(done);
    r.submitted = clock::now();
    r.timeout = options.timeout.value_or(options_.request_timeout);
    if (w) {
      assign(id, r, message, w);
    } else {
      r.waiting_message = message;
      waiting_.push_back(id);
    }
  }

  void wait_ready(ready_completion done) {
    if (closing_) {
      done(errc::pool_closed);
      return;
    }
    ready_waiters_.push_back(std::move(done));
    check_ready();
  }

  // Throws what a failed start threw, or errc::pool_closed.
  void resize(std::size_t workers) {
    if (closing_) throw error(errc::pool_closed, "forkipc::pool::resize");
    target_ = workers == 0 ? one_per_core() : workers;
    // Shrink: replacements not yet started go first, then the least busy workers, gracefully.
    while (serving() > target_ && !respawn_timers_.empty()) {
      respawn_timers_.back()->cancel();
      respawn_timers_.pop_back();
    }
    while (serving() > target_) {
      std::shared_ptr<worker> idlest;
      for (const auto& w : workers_) {
        if (w->leaving == departure::none && (!idlest || w->in_flight.size() < idlest->in_flight.size()))
          idlest = w;
      }
      retire(idlest, departure::drain);
    }
    // Grow.
    try {
      while (serving() < target_) spawn_worker(false);
    } catch (...) {
      target_ = serving();  // keep what started; the caller hears why the rest did not
      dispatch_waiting();
      check_ready();
      throw;
    }
    dispatch_waiting();
    check_ready();
  }

  // Accepted requests, those still waiting too, are served: the workers go once none is left.
  void close() {
    if (closing_) return;
    closing_ = true;
    fail_ready_waiters(errc::pool_closed);
    settle_all_if_drained();
  }

  std::size_t size() const noexcept {
    return static_cast<std::size_t>(std::count_if(workers_.begin(), workers_.end(), [](const auto& w) {
      return w->leaving == departure::none && w->process->connected();
    }));
  }

  pool_stats stats() const noexcept {
    pool_stats s;
    s.workers = size();
    s.pending = waiting_.size();
    s.in_flight = requests_.size() - waiting_.size();
    s.completed = completed_;
    s.failed = failed_;
    s.timed_out = timed_out_;
    s.restarts = restarts_;
    s.rejected = rejected_;
    s.recycled = recycled_;
    s.latency_p50 = latencies_.quantile(0.50);
    s.latency_p99 = latencies_.quantile(0.99);
    return s;
  }

 private:
  // Why a worker leaves the rotation: it takes no new request either way.
  enum class departure {
    none,   // serving
    drain,  // recycled or removed by resize: disconnected once it has answered what it holds
    kill,   // may be stuck (a request timed out on it): killed once its requests are settled
  };

  struct worker {
    std::shared_ptr<child_process> process;
    std::unordered_set<std::uint64_t> in_flight;
    clock::time_point started;
    std::size_t given = 0;  // requests sent to it over its life
    bool spawned = false;   // its "spawn" event came
    bool answered = false;  // it answered a request: it started well, whatever ends it later
    departure leaving = departure::none;
    // departure::kill: the latest it is killed, even with requests still on it.
    std::unique_ptr<boost::asio::steady_timer> kill_deadline;
  };

  struct request {
    completion done;
    clock::time_point submitted;
    std::shared_ptr<worker> assigned;     // null while it waits for a worker with room
    std::optional<json> waiting_message;  // kept only while it waits
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::chrono::milliseconds timeout{0};  // 0: none
  };

  // Workers that count toward the target: those serving and those about to be started again.
  std::size_t serving() const noexcept {
    return respawn_timers_.size() + static_cast<std::size_t>(std::count_if(
        workers_.begin(), workers_.end(), [](const auto& w) { return w->leaving == departure::none; }));
  }

  // A worker's process: spawned, or forked by the pool's zygote, which starts with the first. A
  // zygote that has ended (killed, or crashed in its start-up) is started again, once.
  std::shared_ptr<child_process> start_process() {
    if (!options_.zygote) return forkipc::fork(io_, module_path_, args_, options_.fork);
    if (!zygote_) zygote_.emplace(io_, module_path_, args_, options_.fork);
    try {
      return zygote_->fork();
    } catch (const error& e) {
      if (e.code() != errc::channel_closed) throw;
    }
    zygote_.reset();
    zygote_.emplace(io_, module_path_, args_, options_.fork);
    return zygote_->fork();
  }

  // Throws what forkipc::fork() (or zygote::fork()) throws.
  void spawn_worker(bool replacement) {
    auto w = std::make_shared<worker>();
    w->process = start_process();
    w->started = clock::now();
    if (replacement) ++restarts_;
    const std::weak_ptr<worker> weak = w;
    const auto self = shared_from_this();
    w->process->on("spawn", [self, weak] {
      if (auto w = weak.lock()) {
        w->spawned = true;
        self->check_ready();
      }
    });
    w->process->on("message", [self, weak](const json& m) {
      if (auto w = weak.lock()) self->on_message(w, m);
    });
    w->process->on("close", [self, weak](std::optional<int> code, std::optional<int> signal) {
      if (auto w = weak.lock()) self->on_worker_closed(w, code, signal);
    });
    w->process->on("error", [pid = w->process->pid()](const forkipc::error& e) {
      // Unsent requests of a dying worker fail as worker_exited; anything else is worth a line.
      if (e.code() != errc::channel_closed)
        std::fprintf(stderr, "forkipc::pool: worker %d: %s\n", static_cast<int>(pid), e.what());
    });
    workers_.push_back(std::move(w));
  }

  // Starts a worker in place of one that ended, at once or after the back-off.
  void replace_worker(bool ended_healthy) {
    quick_deaths_ = ended_healthy ? 0 : quick_deaths_ + 1;
    if (quick_deaths_ == 0) return try_spawn_replacement();
    const auto delay = std::min<std::chrono::milliseconds>(first_backoff * (1u << std::min(quick_deaths_ - 1, 6u)),
                                                           longest_backoff);
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, delay);
    respawn_timers_.push_back(timer);
    timer->async_wait([self = shared_from_this(), timer](boost::system::error_code ec) {
      // close() and resize() cancel a timer by taking it off the list, which counts here: its
      // handler may already have been queued when it was cancelled.
      if (ec || std::erase(self->respawn_timers_, timer) == 0 || !self->needs_workers()) return;
      self->try_spawn_replacement();
    });
  }

  // A replacement whose failure is reported to whoever waits, and retried after the back-off.
  void try_spawn_replacement() {
    try {
      spawn_worker(true);
    } catch (const std::system_error& e) {
      std::fprintf(stderr, "forkipc::pool: cannot start a worker: %s\n", e.what());
      if (size() == 0) {  // nothing can take the waiting requests: tell them why
        for (const std::uint64_t id : std::deque<std::uint64_t>(waiting_)) complete(id, e.code(), nullptr);
      }
      fail_ready_waiters(e.code());
      replace_worker(false);
      return;
    }
    dispatch_waiting();
  }

  // Takes w out of the rotation; a replacement starts when the pool is then below its target.
  void retire(const std::shared_ptr<worker>& w, departure why) {
    w->leaving = why;
    if (needs_workers() && serving() < target_) try_spawn_replacement();
    settle(*w);
  }

  // Until close(), and after it while accepted requests still wait for a worker.
  bool needs_workers() const noexcept { return !closing_ || !waiting_.empty(); }

  bool has_room(const worker& w) const noexcept {
    return w.leaving == departure::none && w.process->connected() &&
           (options_.max_in_flight_per_worker == 0 || w.in_flight.size() < options_.max_in_flight_per_worker);
  }

  std::shared_ptr<worker> least_loaded() {
    std::shared_ptr<worker> best;
    const std::size_t n = workers_.size();
    for (std::size_t k = 0; k < n; ++k) {  // from a rotating start, so ties take turns
      const auto& w = workers_[(next_start_ + k) % n];
      if (!has_room(*w)) continue;
      if (!best || w->in_flight.size() < best->in_flight.size()) best = w;
    }
    ++next_start_;
    return best;
  }

  // The timeout counts from here: time spent waiting for a worker is not the worker's, and a
  // request that waited behind a slow one must not fail for it (max_pending bounds the wait).
  void assign(std::uint64_t id, request& r, const json& message, const std::shared_ptr<worker>& w) {
    r.assigned = w;
    w->in_flight.insert(id);
    if (r.timeout.count() > 0) {
      r.timer = std::make_unique<boost::asio::steady_timer>(io_, r.timeout);
      r.timer->async_wait([self = shared_from_this(), id](boost::system::error_code ec) {
        if (!ec) self->on_timeout(id);
      });
    }
    w->process->send(detail::request_envelope(id, message));
    if (options_.max_requests_per_worker != 0 && ++w->given >= options_.max_requests_per_worker) {
      ++recycled_;
      retire(w, departure::drain);
    }
  }

  void dispatch_waiting() {
    // A replacement started while dispatching dispatches again: the outer loop does it.
    if (dispatching_) return;
    dispatching_ = true;
    while (!waiting_.empty()) {
      auto w = least_loaded();
      if (!w) break;
      const std::uint64_t id = waiting_.front();
      waiting_.pop_front();
      request& r = requests_.at(id);
      const json message = std::move(*r.waiting_message);
      r.waiting_message.reset();
      assign(id, r, message, w);
    }
    dispatching_ = false;
    settle_all_if_drained();
  }

  // Once closed and nothing waits: no replacement is due, and every idle worker goes.
  void settle_all_if_drained() {
    if (!closing_ || !waiting_.empty()) return;
    for (auto& timer : respawn_timers_) timer->cancel();
    respawn_timers_.clear();
    zygote_.reset();  // no worker starts any more; those it forked go on until settled
    for (const auto& w : std::vector<std::shared_ptr<worker>>(workers_)) settle(*w);
  }

  void check_ready() {
    if (ready_waiters_.empty() || closing_) return;
    const auto up = std::count_if(workers_.begin(), workers_.end(), [](const auto& w) {
      return w->leaving == departure::none && w->spawned && w->process->connected();
    });
    if (static_cast<std::size_t>(up) < target_) return;
    for (auto& done : std::exchange(ready_waiters_, {})) done({});
  }

  void fail_ready_waiters(std::error_code ec) {
    for (auto& done : std::exchange(ready_waiters_, {})) done(ec);
  }

  void on_message(const std::shared_ptr<worker>& w, const json& m) {
    auto answer = detail::parse_worker_answer(m);
    if (!answer) return;
    w->answered = true;
    const auto it = requests_.find(answer->id);
    if (it == requests_.end() || it->second.assigned != w) return;  // timed out already
    complete(it->first, answer->failed ? make_error_code(errc::request_failed) : std::error_code(),
             std::move(answer->body));
  }

  void on_worker_closed(const std::shared_ptr<worker>& w, std::optional<int>, std::optional<int>) {
    std::erase(workers_, w);
    for (const std::uint64_t id : std::vector<std::uint64_t>(w->in_flight.begin(), w->in_flight.end()))
      complete(id, errc::worker_exited, nullptr);
    // A retired worker was replaced when it was retired, if the pool was to keep its size.
    if (!needs_workers() || w->leaving != departure::none || serving() >= target_) return;
    replace_worker(w->answered || clock::now() - w->started >= healthy_lifetime);
  }

  void on_timeout(std::uint64_t id) {
    const auto it = requests_.find(id);
    if (it == requests_.end()) return;
    const auto w = it->second.assigned;
    const auto timeout = it->second.timeout;
    // It may be stuck: take it out of rotation (a draining one too) before its request is
    // settled, so that no waiting request is given the room that frees; kill it once its other
    // requests are settled, or one more such timeout from now at the latest: a stuck worker would
    // hold a request without a timeout of its own for ever.
    const bool retired_now = w->leaving != departure::kill;
    if (retired_now) retire(w, departure::kill);
    complete(id, std::make_error_code(std::errc::timed_out), nullptr);
    if (!retired_now || w->in_flight.empty()) return;  // killed already
    w->kill_deadline = std::make_unique<boost::asio::steady_timer>(io_, timeout);
    w->kill_deadline->async_wait([weak_self = weak_from_this(), weak = std::weak_ptr<worker>(w)](boost::system::error_code ec) {
      const auto self = weak_self.lock();
      const auto w = weak.lock();
      if (!ec && self && w) w->process->kill(self->options_.fork.kill_signal);
    });
  }

  void complete(std::uint64_t id, std::error_code ec, json reply) {
    auto node = requests_.extract(id);
    if (node.empty()) return;
    request& r = node.mapped();
    if (r.timer) r.timer->cancel();
    if (!ec) {
      ++completed_;
      latencies_.record(clock::now() - r.submitted);
    } else if (ec == std::errc::timed_out) {
      ++timed_out_;
    } else {
      ++failed_;
    }
    if (r.assigned) {
      r.assigned->in_flight.erase(id);
      settle(*r.assigned);
    } else {
      std::erase(waiting_, id);
    }
    r.done(ec, std::move(reply));
    dispatch_waiting();  // its worker may have room now
  }

  // A worker with nothing in flight goes, if it is to: stuck ones are killed; drained ones, and
  // every one once closed with nothing waiting, are disconnected, which ends a serve() loop.
  void settle(worker& w) {
    if (!w.in_flight.empty()) return;
    if (w.leaving == departure::kill) {
      w.process->kill(options_.fork.kill_signal);
    } else if (w.leaving == departure::drain || (closing_ && waiting_.empty())) {
      w.process->disconnect();
    }
  }

  boost::asio::io_context& io_;
  std::string module_path_;
  std::vector<std::string> args_;
  pool_options options_;
  std::optional<zygote> zygote_;                  // with pool_options::zygote, from the first start
  std::size_t target_ = 0;                        // the workers the pool keeps (resize() sets it)
  std::vector<std::shared_ptr<worker>> workers_;  // in start order; a worker leaves on "close"
  std::unordered_map<std::uint64_t, request> requests_;
  std::deque<std::uint64_t> waiting_;
  std::vector<ready_completion> ready_waiters_;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> respawn_timers_;
  std::uint64_t next_id_ = 1;
  std::size_t next_start_ = 0;
  unsigned quick_deaths_ = 0;
  bool closing_ = false;
  bool dispatching_ = false;
  // stats()
  std::size_t completed_ = 0, failed_ = 0, timed_out_ = 0, restarts_ = 0, rejected_ = 0, recycled_ = 0;
  latency_histogram latencies_;
};

pool::pool(boost::asio::io_context& io, std::string module_path, std::vector<std::string> args,
           pool_options options)
    : io_(io), impl_(std::make_shared<impl>(io, std::move(module_path), std::move(args), std::move(options))) {
  impl_->start();
}

pool::~pool() { impl_->close(); }

void pool::submit(const json& message, const request_options& options,
                  std::function<void(std::error_code, json)> done) {
  impl_->submit(message, options, std::move(done));
}

void pool::wait_ready(std::function<void(std::error_code)> done) { impl_->wait_ready(std::move(done)); }

void pool::resize(std::size_t workers) { impl_->resize(workers); }

void pool::resize(std::size_t workers, std::error_code& ec) {
  ec.clear();
  try {
    impl_->resize(workers);
  } catch (const std::system_error& e) {
    ec = e.code();
  }
}

void pool::close() { impl_->close(); }

std::size_t pool::size() const noexcept { return impl_->size(); }

pool_stats pool::stats() const noexcept { return impl_->stats(); }

}  // namespace forkipc
