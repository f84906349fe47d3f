#include <forkipc/pool.hpp>

#include <algorithm>
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

#include "envelope.hpp"

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

}  // namespace

class pool::impl : public std::enable_shared_from_this<impl> {
 public:
  impl(boost::asio::io_context& io, std::string module_path, std::vector<std::string> args,
       pool_options options)
      : io_(io), module_path_(std::move(module_path)), args_(std::move(args)), options_(std::move(options)) {
    if (options_.workers == 0) options_.workers = std::max(1u, std::thread::hardware_concurrency());
  }

  void start() {
    try {
      for (std::size_t i = 0; i < options_.workers; ++i) spawn_worker();
    } catch (...) {
      close();  // the workers already started see their channel close, and exit
      throw;
    }
  }

  void submit(const json& message, completion done) {
    if (closing_) {
      done(errc::pool_closed, nullptr);  // done posts: it never runs inside async_request
      return;
    }
    const std::uint64_t id = next_id_++;
    request& r = requests_[id];
    r.done = std::move(done);
    if (options_.request_timeout.count() > 0) {
      r.timer = std::make_unique<boost::asio::steady_timer>(io_, options_.request_timeout);
      r.timer->async_wait([self = shared_from_this(), id](boost::system::error_code ec) {
        if (!ec) self->on_timeout(id);
      });
    }
    if (auto w = least_loaded()) {
      assign(id, r, message, w);
    } else {
      r.waiting_message = message;
      waiting_.push_back(id);
    }
  }

  void close() {
    if (closing_) return;
    closing_ = true;
    for (auto& timer : respawn_timers_) timer->cancel();
    for (const std::uint64_t id : std::deque<std::uint64_t>(waiting_)) complete(id, errc::pool_closed, nullptr);
    for (const auto& w : std::vector<std::shared_ptr<worker>>(workers_)) settle(*w);
  }

  std::size_t size() const noexcept {
    return static_cast<std::size_t>(std::count_if(workers_.begin(), workers_.end(), [](const auto& w) {
      return !w->retiring && w->process->connected();
    }));
  }

 private:
  struct worker {
    std::shared_ptr<child_process> process;
    std::unordered_set<std::uint64_t> in_flight;
    clock::time_point started;
    bool answered = false;  // it answered a request: it started well, whatever ends it later
    bool retiring = false;  // gets no new request, and is killed once in_flight is empty
  };

  struct request {
    completion done;
    std::shared_ptr<worker> assigned;     // null while it waits for a live worker
    std::optional<json> waiting_message;  // kept only while it waits
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  void spawn_worker() {
    auto w = std::make_shared<worker>();
    w->process = forkipc::fork(io_, module_path_, args_, options_.fork);
    w->started = clock::now();
    const std::weak_ptr<worker> weak = w;
    const auto self = shared_from_this();
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
    dispatch_waiting();
  }

  // Starts a worker in place of one that ended, at once or after the back-off.
  void replace_worker(bool ended_healthy) {
    quick_deaths_ = ended_healthy ? 0 : quick_deaths_ + 1;
    if (quick_deaths_ == 0) return try_spawn_worker();
    const auto delay = std::min<std::chrono::milliseconds>(first_backoff * (1u << std::min(quick_deaths_ - 1, 6u)),
                                                           longest_backoff);
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, delay);
    respawn_timers_.push_back(timer);
    timer->async_wait([self = shared_from_this(), timer](boost::system::error_code ec) {
      std::erase(self->respawn_timers_, timer);
      if (!ec && !self->closing_) self->try_spawn_worker();
    });
  }

  void try_spawn_worker() {
    try {
      spawn_worker();
    } catch (const std::system_error& e) {
      std::fprintf(stderr, "forkipc::pool: cannot start a worker: %s\n", e.what());
      if (size() == 0) {  // nothing can take the waiting requests: tell them why
        for (const std::uint64_t id : std::deque<std::uint64_t>(waiting_)) complete(id, e.code(), nullptr);
      }
      replace_worker(false);
    }
  }

  std::shared_ptr<worker> least_loaded() {
    std::shared_ptr<worker> best;
    const std::size_t n = workers_.size();
    for (std::size_t k = 0; k < n; ++k) {  // from a rotating start, so ties take turns
      const auto& w = workers_[(next_start_ + k) % n];
      if (w->retiring || !w->process->connected()) continue;
      if (!best || w->in_flight.size() < best->in_flight.size()) best = w;
    }
    ++next_start_;
    return best;
  }

  void assign(std::uint64_t id, request& r, const json& message, const std::shared_ptr<worker>& w) {
    r.assigned = w;
    w->in_flight.insert(id);
    w->process->send(detail::request_envelope(id, message));
  }

  void dispatch_waiting() {
    while (!waiting_.empty()) {
      auto w = least_loaded();
      if (!w) return;
      const std::uint64_t id = waiting_.front();
      waiting_.pop_front();
      request& r = requests_.at(id);
      assign(id, r, *r.waiting_message, w);
      r.waiting_message.reset();
    }
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
    if (closing_ || w->retiring) return;  // a retired worker was replaced when it was retired
    replace_worker(w->answered || clock::now() - w->started >= healthy_lifetime);
  }

  void on_timeout(std::uint64_t id) {
    const auto it = requests_.find(id);
    if (it == requests_.end()) return;
    const auto w = it->second.assigned;
    complete(id, std::make_error_code(std::errc::timed_out), nullptr);
    if (w && !w->retiring) {
      // It may be stuck: take it out of rotation, start its replacement now, and kill it once
      // its other requests are settled.
      w->retiring = true;
      if (!closing_) try_spawn_worker();
      settle(*w);
    }
  }

  void complete(std::uint64_t id, std::error_code ec, json reply) {
    auto node = requests_.extract(id);
    if (node.empty()) return;
    request& r = node.mapped();
    if (r.timer) r.timer->cancel();
    if (r.assigned) {
      r.assigned->in_flight.erase(id);
      settle(*r.assigned);
    } else {
      std::erase(waiting_, id);
    }
    r.done(ec, std::move(reply));
  }

  // A worker with nothing in flight goes, if it is to: retired ones are killed, and on close
  // the channel is closed, which ends a serve() loop.
  void settle(worker& w) {
    if (!w.in_flight.empty()) return;
    if (w.retiring) {
      w.process->kill(options_.fork.kill_signal);
    } else if (closing_) {
      w.process->disconnect();
    }
  }

  boost::asio::io_context& io_;
  std::string module_path_;
  std::vector<std::string> args_;
  pool_options options_;
  std::vector<std::shared_ptr<worker>> workers_;  // in start order; a worker leaves on "close"
  std::unordered_map<std::uint64_t, request> requests_;
  std::deque<std::uint64_t> waiting_;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> respawn_timers_;
  std::uint64_t next_id_ = 1;
  std::size_t next_start_ = 0;
  unsigned quick_deaths_ = 0;
  bool closing_ = false;
};

pool::pool(boost::asio::io_context& io, std::string module_path, std::vector<std::string> args,
           pool_options options)
    : io_(io), impl_(std::make_shared<impl>(io, std::move(module_path), std::move(args), std::move(options))) {
  impl_->start();
}

pool::~pool() { impl_->close(); }

void pool::submit(const json& message, completion done) { impl_->submit(message, std::move(done)); }

void pool::close() { impl_->close(); }

std::size_t pool::size() const noexcept { return impl_->size(); }

}  // namespace forkipc
