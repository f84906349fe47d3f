#include <forkipc/sync/child.hpp>

#include "channel/blocking_channel.hpp"
#include "process/child_policy.hpp"
#include "process/spawn.hpp"

namespace forkipc::sync {

struct child::impl {
  impl(detail::spawned_child spawned, const fork_options& options)
      : process(std::move(spawned.child)),
        channel(std::move(spawned.channel), detail::settings_of(options)),
        policy(options),
        kill_deadline(policy.kill_deadline()),
        // On the aborting thread: process's signals may come from any thread.
        abort_subscription(options.signal.on_abort([this] {
          std::error_code ignored;
          process.send_signal(policy.kill_signal, ignored);
        })) {}

  // Also when a moved-to child replaces this one.
  ~impl() {
    abort_subscription.reset();  // first: no abort() signals a child being reaped
    channel.close();
    detail::child_policy::let_go(process);
  }

  // fork_options::timeout, enforced by whichever blocking call is under way when it passes.
  void enforce_timeout() {
    if (kill_deadline.forever() || !kill_deadline.passed()) return;
    kill_deadline = detail::deadline{};
    std::error_code ignored;
    process.send_signal(policy.kill_signal, ignored);
  }

  std::optional<detail::blocking_received> receive(std::chrono::milliseconds timeout) {
    const detail::deadline until(timeout);
    for (;;) {
      if (auto in = channel.receive(detail::deadline::earliest(until, kill_deadline))) return in;
      if (channel.at_end() || until.passed()) return std::nullopt;
      enforce_timeout();
    }
  }

  detail::process process;
  detail::blocking_channel channel;
  detail::child_policy policy;
  detail::deadline kill_deadline;  // passed or for ever once the signal was sent
  abort_signal::subscription abort_subscription;
};

child::child(std::string module_path, std::vector<std::string> args, fork_options options)
    : impl_(std::make_unique<impl>(
          detail::spawn_child(module_path, args, options, detail::captured_output::dev_null),
          options)) {}

child::~child() = default;

child::child(child&&) noexcept = default;
child& child::operator=(child&&) noexcept = default;

void child::send(const json& message) { impl_->channel.send(message); }

void child::send(const json& message, handle h) { impl_->channel.send(message, std::move(h)); }

void child::send_bytes(std::span<const std::byte> bytes) { impl_->channel.send_bytes(bytes); }

std::optional<std::pair<json, handle>> child::receive_with_handle(std::chrono::milliseconds timeout) {
  return detail::with_handle(impl_->receive(timeout));
}

std::optional<received> child::receive_any(std::chrono::milliseconds timeout) {
  return detail::without_handle(impl_->receive(timeout));
}

std::optional<json> child::receive(std::chrono::milliseconds timeout) {
  auto received = receive_with_handle(timeout);  // a handle that came is closed here
  if (!received) return std::nullopt;
  return std::move(received->first);
}

void child::disconnect() { impl_->channel.close(); }

bool child::kill(int signal) {
  std::error_code ignored;
  return impl_->process.send_signal(signal, ignored);
}

pid_t child::pid() const noexcept { return impl_->process.pid(); }

std::pair<std::optional<int>, std::optional<int>> child::wait() {
  for (;;) {
    if (auto status = impl_->process.wait(impl_->kill_deadline)) return {status->code, status->signal};
    impl_->enforce_timeout();
  }
}

}  // namespace forkipc::sync
