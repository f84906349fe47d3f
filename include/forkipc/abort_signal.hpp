// forkipc::abort_controller and abort_signal: cancellation after Node's AbortController, for
// fork_options::signal.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <forkipc/detail/export.hpp>

namespace forkipc {

class FORKIPC_API abort_signal;  // exported: see forkipc/detail/export.hpp
class FORKIPC_API abort_controller;

/// The side of an abort_controller that is given away (Node's AbortSignal): whoever holds one
/// learns when its controller aborts. Copies share the state; a default-constructed signal has
/// no controller and never aborts. Every member may be called from any thread.
class abort_signal {
  struct state;  // shared by the controller, its signals and their subscriptions

 public:
  abort_signal() = default;

  /// Keeps a listener registered; dropping it (or reset()) removes the listener, after which it
  /// never runs, even when abort() is under way on another thread (the removal waits for it).
  class subscription {
   public:
    /// An empty subscription: no listener.
    subscription() = default;
    /// Takes other's listener; other is left empty.
    subscription(subscription&& other) noexcept;
    /// Removes this one's listener (as reset()), then takes other's; other is left empty.
    subscription& operator=(subscription&& other) noexcept;
    /// Removes the listener (as reset()).
    ~subscription();
    /// Removes the listener now: it never runs after this returns. Does nothing when empty.
    void reset();

   private:
    friend class abort_signal;
    subscription(std::shared_ptr<state> owner, std::uint64_t id) noexcept : state_(std::move(owner)), id_(id) {}
    std::shared_ptr<state> state_;
    std::uint64_t id_ = 0;
  };

  /// true once the controller aborted.
  bool aborted() const noexcept;

  /// Calls listener once, on the thread that calls abort(), when the controller aborts; at once,
  /// on this thread, when it has already (then the subscription is empty). A listener must not
  /// block, nor call abort() or drop a subscription of the same controller: post the work to
  /// an io_context instead, as forkipc does.
  [[nodiscard]] subscription on_abort(std::function<void()> listener) const;

 private:
  friend class abort_controller;
  explicit abort_signal(std::shared_ptr<state> shared) noexcept : state_(std::move(shared)) {}
  std::shared_ptr<state> state_;
};

/// Node's AbortController: abort() tells every holder of its signal(), once. Pass the signal in
/// fork_options::signal to kill a child on abort.
class abort_controller {
 public:
  abort_controller();

  /// The signal to give away; every call returns one that shares this controller's state.
  abort_signal signal() const noexcept { return signal_; }

  /// Aborts: runs every listener registered on the signal, on this thread, once. Later calls do
  /// nothing. May be called from any thread.
  void abort();

 private:
  abort_signal signal_;
};

}  // namespace forkipc
