// forkipc::sync::parent: the blocking child side, for simple children.
#pragma once

#include <memory>
#include <optional>

#include <forkipc/channel_options.hpp>
#include <forkipc/json.hpp>

namespace forkipc {
namespace sync {

/// This process's channel to its parent, driven by blocking calls. Takes the channel as
/// forkipc::parent() does (once per process; the environment variables are removed).
class parent {
 public:
  /// Throws forkipc::error: errc::not_forked without a channel, and as forkipc::parent() does.
  parent();
  /// As above, with this end's limits (see forkipc::parent(io, options)).
  explicit parent(const channel_options& options);
  ~parent();
  parent(parent&&) noexcept;
  parent& operator=(parent&&) noexcept;

  /// The next message; nullopt once the parent disconnected. Throws forkipc::error for bad input
  /// from the parent (the channel goes on after it).
  std::optional<json> receive();

  /// Returns once the message is written. Throws forkipc::error: errc::channel_closed when the
  /// parent is gone, errc::unencodable_message for a message that cannot be encoded.
  void send(const json& message);

  /// Closes the channel.
  void disconnect();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sync
}  // namespace forkipc
