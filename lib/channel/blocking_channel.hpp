// blocking_channel: the channel for the blocking API, on plain poll(2) (after a spin, on shared memory).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <utility>
#include <variant>

#include <forkipc/json.hpp>

#include "channel/channel_codec.hpp"
#include "transport/byte_stream.hpp"
#include "transport/poll.hpp"
#include "unique_fd.hpp"
#include "transport/write_queue.hpp"

namespace forkipc::detail {

/// What blocking_channel::receive() returns: a message, or the bytes of a raw frame (valid
/// until the next call).
using blocking_received = std::variant<incoming, std::span<const std::byte>>;

/// What the sync API's receive_with_handle() makes of what receive() returned: a frame of bytes
/// becomes a message holding one binary value.
std::optional<std::pair<json, forkipc::handle>> with_handle(std::optional<blocking_received>&& in);

/// What the sync API's receive_any() makes of it: the handle, if any, is closed.
std::optional<std::variant<json, std::span<const std::byte>>> without_handle(
    std::optional<blocking_received>&& in);

class blocking_channel {
 public:
  blocking_channel(channel_link link, const channel_settings& settings);

  /// Returns once message is written, with passed (when not empty: it is closed once sent).
  /// Throws error(errc::channel_closed) when the channel is closed or the peer is gone,
  /// error(errc::unencodable_message) for a message that cannot be encoded.
  void send(const json& message, forkipc::handle passed = {});

  /// As send(), for one frame of raw bytes; throws error(errc::unsupported_serialization) in
  /// json serialization.
  void send_bytes(std::span<const std::byte> bytes);

  /// The next message, with the handle the peer passed with it (acknowledged as Node expects),
  /// if any, or the next frame of bytes; nullopt at the end of the channel or when until passes.
  /// Throws the decoder's error for a bad message; the next call goes on after it.
  std::optional<blocking_received> receive(const deadline& until);

  /// true once the peer closed the channel or close() was called.
  bool at_end() const noexcept { return at_end_; }

  void close() noexcept;

 private:
  // Writes what is queued (one message), waiting for the peer to make room.
  void write_queued();

  unique_fd socket_;
  byte_stream stream_;
  channel_codec codec_;
  write_queue queue_;  // holds one message at a time, and keeps its storage for the next
  bool at_end_ = false;
};

}  // namespace forkipc::detail
