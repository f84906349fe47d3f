#include <forkipc/abort_signal.hpp>

#include <map>
#include <mutex>
#include <utility>

namespace forkipc {

// Listeners run under the lock, so that a subscription dropped on one thread waits for an
// abort() under way on another: after reset() returns, its listener cannot run (a child_process
// going away must not be posted to afterwards). Hence a listener must not touch the lock again.
struct abort_signal::state {
  std::mutex lock;
  bool aborted = false;
  std::uint64_t next_id = 1;
  std::map<std::uint64_t, std::function<void()>> listeners;
};

abort_signal::subscription::subscription(subscription&& other) noexcept
    : state_(std::move(other.state_)), id_(std::exchange(other.id_, 0)) {}

abort_signal::subscription& abort_signal::subscription::operator=(subscription&& other) noexcept {
  if (this != &other) {
    reset();
    state_ = std::move(other.state_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

abort_signal::subscription::~subscription() { reset(); }

void abort_signal::subscription::reset() {
  if (!state_) return;
  {
    const std::lock_guard guard(state_->lock);
    state_->listeners.erase(id_);
  }
  state_.reset();
  id_ = 0;
}

bool abort_signal::aborted() const noexcept {
  if (!state_) return false;
  const std::lock_guard guard(state_->lock);
  return state_->aborted;
}

abort_signal::subscription abort_signal::on_abort(std::function<void()> listener) const {
  if (!state_) return {};
  {
    const std::lock_guard guard(state_->lock);
    if (!state_->aborted) {
      const std::uint64_t id = state_->next_id++;
      state_->listeners.emplace(id, std::move(listener));
      return subscription(state_, id);
    }
  }
  listener();
  return {};
}

abort_controller::abort_controller() : signal_(std::shared_ptr<abort_signal::state>(new abort_signal::state)) {}

void abort_controller::abort() {
  auto& state = *signal_.state_;
  const std::lock_guard guard(state.lock);
  if (std::exchange(state.aborted, true)) return;
  for (auto& [id, listener] : std::exchange(state.listeners, {})) listener();
}

}  // namespace forkipc
