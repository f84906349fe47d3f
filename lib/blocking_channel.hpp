// blocking_channel: the channel for the blocking API, on plain poll(2).
#pragma once

#include <cstddef>
#include <optional>

#include <forkipc/json.hpp>

#include "channel_codec.hpp"
#include "poll.hpp"
#include "unique_fd.hpp"
#include "write_queue.hpp"

namespace forkipc::detail {

class blocking_channel {
 public:
  blocking_channel(unique_fd socket, const channel_settings& settings);

  /// Returns once message is written, with passed (when not empty: it is closed once sent).
  /// Throws error(errc::channel_closed) when the channel is closed or the peer is gone,
  /// error(errc::unencodable_message) for a message that cannot be encoded.
  void send(const json& message, forkipc::handle passed = {});

  /// The next message, with the handle the peer passed with it (acknowledged as Node expects),
  /// if any; nullopt at the end of the channel or when until passes. Throws the decoder's error
  /// for a bad message; the next call goes on after it.
  std::optional<incoming> receive(const deadline& until);

  /// true once the peer closed the channel or close() was called.
  bool at_end() const noexcept { return at_end_; }

  void close() noexcept;

 private:
  unique_fd socket_;
  channel_codec codec_;
  write_queue queue_;  // holds one message at a time, and keeps its storage for the next
  bool at_end_ = false;
};

}  // namespace forkipc::detail
