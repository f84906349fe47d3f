#include <forkipc/child_process.hpp>

#include <optional>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <forkipc/default_context.hpp>

#include "api/endpoint_core.hpp"
#include "channel/channel.hpp"
#include "process/child_policy.hpp"
#include "process/exit_watch.hpp"
#include "process/input_pipe.hpp"
#include "process/output_pipe.hpp"
#include "process/process.hpp"
#include "process/spawn.hpp"

namespace forkipc {

namespace events = detail::events;

// The lifecycle of one child: spawn, then the channel and the process end in either order, and
// "exit" and "close" wait until both have; see the table in child_process.hpp.
class child_process::impl final : public detail::endpoint_core<decltype(child_process::events_)> {
 public:
  impl(child_process& self, boost::asio::io_context& io, detail::spawned_child spawned,
       const fork_options& options)
      : endpoint_core(self.events_),
        self_(self),
        lifetime_(self.weak_from_this()),
        process_(std::move(spawned.child)),
        channel_(io, std::move(spawned.channel), detail::settings_of(options), *this, lifetime_),
        exit_watch_(io, process_),
        policy_(options),
        timeout_timer_(io),
        abort_signal_(options.signal) {
    if (spawned.stdout_pipe) {
      stdout_.emplace(io, std::move(spawned.stdout_pipe),
                      [this](std::string_view data) { self_.events_.emit<events::stdout_data>(data); },
                      lifetime_);
      stderr_.emplace(io, std::move(spawned.stderr_pipe),
                      [this](std::string_view data) { self_.events_.emit<events::stderr_data>(data); },
                      lifetime_);
    }
    if (spawned.stdin_pipe) {
      stdin_.emplace(io, std::move(spawned.stdin_pipe),
                     [this](std::error_code ec) {
                       report(error(ec, "cannot write to the stdin of child " + std::to_string(process_.pid())));
                     },
                     lifetime_);
    }
  }

  ~impl() {
    abort_subscription_.reset();  // first: an abort() on another thread posts no more
    if (process_.reaped()) return;
    // The io_context went away with the child still running.
    channel_.abandon();
    detail::child_policy::let_go(process_);
  }

  void start() {
    if (policy_.timeout.count() > 0) {
      timeout_timer_.expires_after(policy_.timeout);
      timeout_timer_.async_wait([this, life = lifetime_.lock()](boost::system::error_code ec) {
        if (!ec && !process_.reaped()) self_.kill(policy_.kill_signal);
      });
    }
    // Node emits "spawn" on the next tick; so do we, and only then start reading, so that every
    // listener added after fork() returns sees "spawn" first and every message after it.
    boost::asio::post(timeout_timer_.get_executor(), [this, life = lifetime_.lock()] {
      self_.events_.emit<events::spawn>();
      channel_.start();
      if (stdout_) stdout_->start();
      if (stderr_) stderr_->start();
      watch_exit();
    });
    // After "spawn", as Node's: on the aborting thread, only a post to this io_context, which
    // the subscription (dropped before the io_context can go) keeps valid.
    abort_subscription_ = abort_signal_.on_abort([this, weak = lifetime_] {
      boost::asio::post(timeout_timer_.get_executor(), [this, life = weak.lock()] {
        if (life) on_abort();
      });
    });
  }

  detail::channel& channel() noexcept { return channel_; }

  bool kill(int signal) {
    std::error_code ec;
    if (process_.send_signal(signal, ec)) {
      killed_ = true;
      return true;
    }
    if (ec != std::errc::no_such_process) {  // ESRCH: it has ended already, nothing to report
      boost::asio::post(timeout_timer_.get_executor(), [this, life = lifetime_.lock(), ec, signal] {
        report(error(ec, "cannot send signal " + std::to_string(signal) + " to child " +
                             std::to_string(process_.pid())));
      });
    }
    return false;
  }

  detail::input_pipe& child_stdin(const char* call) {
    if (!stdin_ || stdin_->ending())
      throw std::logic_error(std::string("forkipc: child_process::") + call + ": child " +
                             std::to_string(process_.pid()) +
                             (stdin_ ? "'s stdin was ended already (end_stdin)"
                                     : " has no stdin of yours: fork it with fork_options::silent"));
    return *stdin_;
  }
  void end_stdin() {
    if (!stdin_) child_stdin("end_stdin");
    stdin_->end();
  }

  pid_t pid() const noexcept { return process_.pid(); }
    bool killed() const noexcept { return killed_; }
  std::optional<int> exit_code() const noexcept {
    return process_.status() ? process_.status()->code : std::nullopt;
  }
  std::optional<int> signal_code() const noexcept {
    return process_.status() ? process_.status()->signal : std::nullopt;
  }

 private:
  std::string peer_name() const override { return "child " + std::to_string(process_.pid()); }

  void on_channel_closed() override {
    channel_closed_ = true;
    self_.events_.emit<events::disconnect>();
    finish_if_done();
  }

  // Asks first, then waits for a hint (exit_watch.hpp): an exit before the first wait is seen.
  void watch_exit() {
    if (process_.try_reap()) return on_exit();
    exit_watch_.async_wait([this, life = lifetime_.lock()](boost::system::error_code ec) {
      if (!ec) watch_exit();
    });
  }

  // As Node: kill_signal, then an AbortError when it was delivered.
  void on_abort() {
    if (process_.reaped()) return;
    if (self_.kill(policy_.kill_signal))
      report(error(errc::aborted, "child " + std::to_string(process_.pid()) + " was sent signal " +
                                      std::to_string(policy_.kill_signal) + " (fork_options::signal)"));
  }

  void on_exit() {
    timeout_timer_.cancel();
    abort_subscription_.reset();  // as Node removes its abort listener at "exit"
    // Everything the child wrote before it ended is in the socket and the pipes by now:
    // deliver it, then close them, so that "exit" never waits on a grandchild holding them.
    if (stdout_) stdout_->drain_and_close();
    if (stderr_) stderr_->drain_and_close();
    if (stdin_) stdin_->close();
    channel_.drain_and_close();
    finish_if_done();
  }

  void finish_if_done() {
    if (finished_ || !process_.reaped() || !channel_closed_) return;
    finished_ = true;
    const detail::exit_status status = *process_.status();
    self_.events_.emit<events::exit>(status.code, status.signal);
    self_.events_.emit<events::close>(status.code, status.signal);
    self_.events_.clear();  // "close" is the last event: release what the listeners hold
  }

  child_process& self_;
  std::weak_ptr<void> lifetime_;
  detail::process process_;
  detail::channel channel_;
  detail::exit_watch exit_watch_;
  std::optional<detail::output_pipe> stdout_, stderr_;
  std::optional<detail::input_pipe> stdin_;
  detail::child_policy policy_;
  boost::asio::steady_timer timeout_timer_;
  abort_signal abort_signal_;
  abort_signal::subscription abort_subscription_;
  std::atomic<bool> killed_ = false;
  bool channel_closed_ = false;
  bool finished_ = false;
};

child_process::child_process(private_tag) {}

child_process::~child_process() = default;

bool child_process::kill(int signal) { return impl_->kill(signal); }

bool child_process::write_stdin(std::string_view data, std::function<void(std::error_code)> on_written) {
  return impl_->child_stdin("write_stdin").write(data, std::move(on_written));
}

void child_process::end_stdin() { impl_->end_stdin(); }

pid_t child_process::pid() const noexcept { return impl_->pid(); }

bool child_process::killed() const noexcept { return impl_->killed(); }

std::optional<int> child_process::exit_code() const noexcept { return impl_->exit_code(); }

std::optional<int> child_process::signal_code() const noexcept { return impl_->signal_code(); }

std::shared_ptr<child_process> child_process::start(boost::asio::io_context& io, detail::spawned_child&& spawned,
                                                   const fork_options& options) {
  auto child = std::make_shared<child_process>(child_process::private_tag{});
  child->impl_ = std::make_unique<child_process::impl>(*child, io, std::move(spawned), options);
  child->channel_ = &child->impl_->channel();
  child->impl_->start();
  return child;
}

std::shared_ptr<child_process> fork(boost::asio::io_context& io, std::string module_path,
                                    std::vector<std::string> args, fork_options options) {
  return child_process::start(io, detail::spawn_child(module_path, args, options, detail::captured_output::pipe),
                              options);
}

std::shared_ptr<child_process> fork(std::string module_path, std::vector<std::string> args,
                                    fork_options options) {
  return fork(default_context(), std::move(module_path), std::move(args), std::move(options));
}

}  // namespace forkipc
