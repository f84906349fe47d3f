// forkipc::sync::parent: the blocking child side, for simple children.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <utility>

#include <forkipc/detail/export.hpp>
#include <forkipc/channel_options.hpp>
#include <forkipc/handle.hpp>
#include <forkipc/json.hpp>
#include <forkipc/sync/received.hpp>

namespace forkipc {
namespace sync {

class FORKIPC_API parent;  // exported: see forkipc/detail/export.hpp

/// This process's channel to its parent, driven by blocking calls. Takes the channel as
/// forkipc::parent() does (once per process; the environment variables are removed).
class parent {
 public:
  /// Throws forkipc::error: errc::not_forked without a channel, and as forkipc::parent() does.
  parent();
  /// As above, with this end's limits (see forkipc::parent(io, options)).
  explicit parent(const channel_options& options);
  /// Closes the channel (send() returns only once written, so nothing is lost): the parent sees
  /// "disconnect".
  ~parent();
  /// Takes other's channel; other is left empty, and only destruction and assignment apply.
  parent(parent&&) noexcept;
  /// Closes this object's channel, if any, as the destructor does, then takes other's.
  parent& operator=(parent&&) noexcept;

  /// The next message; nullopt once the parent disconnected. Throws forkipc::error for bad input
  /// from the parent (the channel goes on after it). A handle the parent passed with the message
  /// is closed: take it with receive_with_handle().
  std::optional<json> receive();

  /// The next message and the handle the parent passed with it (send(message, handle) there);
  /// the handle is empty when none came. Received handles are close-on-exec. nullopt once the
  /// parent disconnected. Throws as receive() does.
  std::optional<std::pair<json, handle>> receive_with_handle();

  /// The next message (a handle that came with it is closed) or frame of bytes the parent sent
  /// with send_bytes(); nullopt once the parent disconnected. receive() and
  /// receive_with_handle() return a frame of bytes as a message holding one binary value
  /// (json::binary_t), copied.
  std::optional<received> receive_any();

  /// Returns once the message is written. Throws forkipc::error: errc::channel_closed when the
  /// parent is gone, errc::unencodable_message for a message that cannot be encoded.
  void send(const json& message);

  /// As above, passing h's descriptor with the message (SCM_RIGHTS; Node's NODE_HANDLE exchange
  /// in json serialization). This process's copy is closed once sent, or when the send fails;
  /// dup() first to keep one (shared_segment::share() gives a new one).
  void send(const json& message, handle h);

  /// Returns once bytes are written as one frame, which the parent receives whole (its "bytes"
  /// event, or receive_any()). Throws forkipc::error as send() does, and
  /// errc::unsupported_serialization in json serialization, which carries only JSON text.
  void send_bytes(std::span<const std::byte> bytes);

  /// Closes the channel.
  void disconnect();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sync
}  // namespace forkipc
