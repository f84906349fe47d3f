// forkipc::channel_end: what either end of a channel can do, whichever process holds it.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <system_error>

#include <forkipc/detail/export.hpp>
#include <forkipc/handle.hpp>
#include <forkipc/json.hpp>

namespace forkipc {

namespace detail {
class channel;
}

class FORKIPC_API channel_end;  // exported: see forkipc/detail/export.hpp

/// Sending on a channel, and closing it: what a child_process (the parent's end) and a
/// parent_process (the child's end) have alike. "The peer" is the process at the other end.
/// Code that only sends can take a `channel_end&` and serve either end.
///
/// The members may be called from any thread but disconnect() and connected(), which are for
/// the io_context's thread (or before it runs).
class channel_end {
 public:
  channel_end(const channel_end&) = delete;
  channel_end& operator=(const channel_end&) = delete;

  /// Queues message for the peer. Returns false when the channel is closed (then on_sent, or an
  /// "error" event without one, gets errc::channel_closed) or when more than 128 KiB wait to be
  /// written (the message is still queued, as in Node: wait for an on_sent before sending on).
  /// on_sent(ec) runs on the io_context's thread once the bytes are written or have failed.
  /// Throws forkipc::error (errc::unencodable_message) for a message that cannot be encoded,
  /// such as one holding invalid UTF-8; nothing is sent then.
  bool send(const json& message, std::function<void(std::error_code)> on_sent = {});

  /// As send(message, on_sent), passing a descriptor with the message (SCM_RIGHTS): a "message"
  /// listener of the peer taking `(const json&, forkipc::handle)` receives its own descriptor
  /// for the same open file or socket. The handle is closed here once written (dup() first to
  /// keep using it), or when the send fails. In json serialization this is Node's NODE_HANDLE
  /// exchange, so a Node peer gets a net.Server for a listening socket, a net.Socket for a
  /// connected one, a dgram.Socket for a UDP socket (any other descriptor only a forkipc peer
  /// can use).
  bool send(const json& message, handle passed, std::function<void(std::error_code)> on_sent = {});

  /// Queues bytes for the peer as one frame, delivered whole to its "bytes" listeners (no JSON
  /// on either side: for a format of your own, such as protobuf or packed structs), in order
  /// with messages. Returns and reports as send(). Needs serialization::binary: throws
  /// forkipc::error (errc::unsupported_serialization) in json serialization, and
  /// (errc::unencodable_message) for more than 4 GiB; nothing is sent then.
  bool send_bytes(std::span<const std::byte> bytes, std::function<void(std::error_code)> on_sent = {});

  /// Closes the channel once what was sent has been written; no message is delivered after it.
  /// "disconnect" follows, and a peer that waits on its channel sees the end of it.
  void disconnect();

  /// true until the channel closes or disconnect() is called.
  bool connected() const noexcept;

 protected:
  channel_end() noexcept = default;
  ~channel_end() = default;

  /// The channel, set by the derived class once it exists (before the object is handed out).
  detail::channel* channel_ = nullptr;
};

}  // namespace forkipc
