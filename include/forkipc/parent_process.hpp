// forkipc::parent(): a child's channel to the parent that forked it.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

#include <forkipc/channel_end.hpp>
#include <forkipc/detail/export.hpp>
#include <forkipc/channel_options.hpp>
#include <forkipc/detail/asio.hpp>
#include <forkipc/detail/process_events.hpp>
#include <forkipc/error.hpp>
#include <forkipc/json.hpp>

namespace forkipc {

/// true when this process was started with an IPC channel (by forkipc::fork, Node's
/// child_process.fork, or anything that sets NODE_CHANNEL_FD), whether or not it was taken yet.
FORKIPC_API bool has_parent() noexcept;

class FORKIPC_API parent_process;  // exported: see forkipc/detail/export.hpp

/// The child's side of the channel, after Node's `process.send` / `process.on("message")`:
/// sending is channel_end's.
///
/// | event        | listener                    | when |
/// |--------------|-----------------------------|------|
/// | "message"    | void(const json&[, handle]) | a message from the parent, in the order sent |
/// | "bytes"      | void(std::span<const std::byte>) | the parent's send_bytes(), in order with messages; valid during the call |
/// | "disconnect" | void()                      | the channel closed, from either side: last event |
/// | "error"      | void(const forkipc::error&) | bad input from the parent, a failed send |
///
/// While the channel is open the io_context stays busy, so io_context::run() returns once the
/// parent disconnects (or this side calls disconnect()), as a Node child with a "message"
/// listener does. Messages sent before the process exits normally (return from main, exit()) or
/// before disconnect() reach the parent: what is still queued then is written before the process
/// ends. After "disconnect" the listeners are released.
class parent_process : public channel_end, public std::enable_shared_from_this<parent_process> {
  struct private_tag {};

 public:
  /// For parent() only, which makes the one parent_process (private_tag cannot be named elsewhere).
  explicit parent_process(private_tag);
  /// Runs once no shared_ptr to it is left; forkipc's pending operations hold one while the
  /// channel is open, so dropping yours does not stop the events.
  ~parent_process();
  parent_process(const parent_process&) = delete;
  parent_process& operator=(const parent_process&) = delete;

  /// Adds listener to event (see the table above). Throws std::invalid_argument, naming the
  /// valid choices, for an unknown event or a listener that cannot take the event's arguments.
  template <class F>
  parent_process& on(std::string_view event, F&& listener) {
    events_.add(event, std::forward<F>(listener), false);
    return *this;
  }

  /// As on(), for the next occurrence of event only.
  template <class F>
  parent_process& once(std::string_view event, F&& listener) {
    events_.add(event, std::forward<F>(listener), true);
    return *this;
  }

 private:
  friend std::shared_ptr<parent_process> parent(boost::asio::io_context&, const channel_options&);
  class impl;

  detail::emitter<detail::events::message, detail::events::bytes, detail::events::disconnect,
                  detail::events::error>
      events_;
  std::unique_ptr<impl> impl_;
};

/// Takes this process's channel to its parent onto io. The channel can be taken once per process:
/// a second call returns the same parent_process while it lives. Like Node, it then removes
/// NODE_CHANNEL_FD and NODE_CHANNEL_SERIALIZATION_MODE from the environment (unsetenv: do not
/// call it while other threads read the environment) and makes the descriptor close-on-exec, so
/// this process's own children do not inherit it.
///
/// Throws forkipc::error: errc::not_forked without a channel (or once it was closed);
/// errc::unsupported_serialization when the parent asked for a format forkipc does not speak
/// (NODE_CHANNEL_SERIALIZATION_MODE names none of "json", "advanced" and forkipc's own); an
/// operating system error (EBADF, ENOTSOCK, EPROTOTYPE, ENOTCONN) that
/// says what is wrong when NODE_CHANNEL_FD does not name a connected Unix stream socket.
FORKIPC_API std::shared_ptr<parent_process> parent(boost::asio::io_context& io);

/// As above, with this end's limits (the defaults otherwise): a child that expects messages
/// larger than 64 MiB from its parent raises options.max_message_size. They apply when the
/// channel is taken; a later call returns the parent_process as it was made.
FORKIPC_API std::shared_ptr<parent_process> parent(boost::asio::io_context& io, const channel_options& options);

/// As above, on forkipc::default_context().
FORKIPC_API std::shared_ptr<parent_process> parent();
/// As parent(io, options), on forkipc::default_context().
FORKIPC_API std::shared_ptr<parent_process> parent(const channel_options& options);

}  // namespace forkipc
