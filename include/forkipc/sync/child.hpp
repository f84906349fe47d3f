// forkipc::sync::child: the blocking parent side, for scripts, tools and tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <forkipc/detail/export.hpp>
#include <forkipc/fork_options.hpp>
#include <forkipc/handle.hpp>
#include <forkipc/json.hpp>
#include <forkipc/sync/received.hpp>

namespace forkipc {
namespace sync {

class FORKIPC_API child;  // exported: see forkipc/detail/export.hpp

/// A child started as fork() starts one, driven by blocking calls instead of an io_context.
///
/// Its destructor never leaves a zombie: it disconnects, gives the child 500 ms to exit, then
/// sends SIGKILL, and reaps it. fork_options::silent discards the child's stdout and stderr here
/// (nothing would read them), and fork_options::timeout is enforced while receive() or wait()
/// block. Decoding errors throw from receive(); the next receive() goes on with the next message.
class child {
 public:
  /// Starts the child; throws as forkipc::fork() does.
  child(std::string module_path, std::vector<std::string> args = {}, fork_options options = {});
  /// Disconnects, gives the child 500 ms to exit, then sends SIGKILL, and reaps it (unless
  /// wait() already did). Nothing to do for a moved-from child.
  ~child();
  /// Takes other's child; other is left empty, and only destruction and assignment apply to it.
  child(child&&) noexcept;
  /// Takes other's child. This object's own child, if any, ends as the destructor ends it: it is
  /// disconnected, given 500 ms to exit, then sent SIGKILL, and reaped.
  child& operator=(child&&) noexcept;

  /// Returns once the message is written. Throws forkipc::error: errc::channel_closed when the
  /// channel is closed, errc::unencodable_message for a message that cannot be encoded.
  void send(const json& message);

  /// As above, passing h's descriptor with the message (SCM_RIGHTS; Node's NODE_HANDLE exchange
  /// in json serialization). This process's copy is closed once sent, or when the send fails;
  /// dup() first to keep one (shared_segment::share() gives a new one).
  void send(const json& message, handle h);

  /// Returns once bytes are written as one frame, which the child receives whole (its "bytes"
  /// event, or receive_any()). Throws forkipc::error as send() does, and
  /// errc::unsupported_serialization in json serialization, which carries only JSON text.
  void send_bytes(std::span<const std::byte> bytes);

  /// The next message; nullopt once the channel is closed, or when timeout passes first. Throws
  /// forkipc::error for bad input from the child (the channel goes on after it). A handle the
  /// child passed with the message is closed: take it with receive_with_handle().
  std::optional<json> receive(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

  /// The next message and the handle the child passed with it; the handle is empty when none
  /// came. Received handles are close-on-exec. nullopt as for receive(), which it otherwise is.
  std::optional<std::pair<json, handle>> receive_with_handle(
      std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

  /// The next message (a handle that came with it is closed) or frame of bytes the child sent
  /// with send_bytes(); nullopt as for receive(). receive() and receive_with_handle() return a
  /// frame of bytes as a message holding one binary value (json::binary_t), copied.
  std::optional<received> receive_any(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

  /// Closes the channel; the child sees its end.
  void disconnect();

  /// Sends signal; true when delivered, false when the child has already ended.
  bool kill(int signal = SIGTERM);

  /// The child's process id, valid until wait() reaped it.
  pid_t pid() const noexcept;

  /// Blocks until the child ends, reaps it and returns (exit code, signal); exactly one is set.
  /// Later calls return the same. It does not read the channel: a child blocked writing to a full
  /// channel never ends, so receive() to the end or disconnect() first.
  std::pair<std::optional<int>, std::optional<int>> wait();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sync
}  // namespace forkipc
