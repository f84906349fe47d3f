// channel_codec: what both kinds of channel do between their socket and their messages.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <span>
#include <variant>

#include <forkipc/channel_options.hpp>
#include <forkipc/fork_options.hpp>
#include <forkipc/handle.hpp>
#include <forkipc/serialization.hpp>

#include "codec/message_codec.hpp"
#include "transport/byte_stream.hpp"
#include "transport/received_descriptors.hpp"
#include "channel/large_values.hpp"
#include "unique_fd.hpp"
#include "transport/write_queue.hpp"

namespace forkipc::detail {

/// How a channel frames its messages, and its limits.
struct channel_settings {
  serialization mode;
  channel_options limits;
};

/// The settings of a parent's end, from the options it forked with.
inline channel_settings settings_of(const fork_options& options) {
  return {options.serialization,
          {.max_message_size = options.max_message_size,
           .shared_memory_threshold = options.shared_memory_threshold,
           .max_queued_bytes = options.max_queued_bytes,
           .max_nesting_depth = options.max_nesting_depth}};
}

/// A message that arrived, with the descriptor it passed, if any.
struct incoming {
  json message;
  forkipc::handle passed;
};

/// What the bytes read decode to next. raw_bytes is valid until the next call of next().
using channel_event = std::variant<incoming, raw_bytes, error>;

/// The framing of one end of a channel, apart from how it waits for its socket: encoding into a
/// write queue (large binary values into shared memory, passed handles in Node's envelope) and
/// decoding what is read (descriptors the peer passed claimed by the messages that carry them;
/// any other descriptor closed once its message is done, and reported).
class channel_codec {
 public:
  explicit channel_codec(const channel_settings& settings);
  channel_codec(const channel_codec&) = delete;
  channel_codec& operator=(const channel_codec&) = delete;

  /// Appends message to queue; passed (when not empty) goes with it. Throws
  /// error(errc::unencodable_message) (invalid UTF-8, nested deeper than max_nesting_depth) or a
  /// shared-memory failure, queuing nothing.
  void push(write_queue& queue, const json& message, forkipc::handle passed,
            write_queue::callback on_written);

  /// Appends bytes to queue as one frame of raw bytes (send_bytes). Throws
  /// error(errc::unsupported_serialization) in json and advanced serialization, which have no
  /// such frames.
  void push_bytes(write_queue& queue, std::span<const std::byte> bytes, write_queue::callback on_written);

  /// true when the message pushed last has large values to stream through shared memory: the
  /// caller then sends the message at once, and calls stream() (or discard_stream() if the peer
  /// is gone). See shm_outbox.
  bool streaming() const noexcept { return outbox_ && outbox_->streaming(); }
  void stream(bool sent) { outbox_->stream(sent); }
  void discard_stream() noexcept {
    if (outbox_) outbox_->discard_stream();
  }

  /// One non-blocking read from stream (see byte_stream::read).
  long receive(byte_stream& stream, std::size_t read_size = 64 * 1024);

  /// The next event from the bytes read, or nullopt when more bytes are needed. When answer is
  /// set on return, the caller sends it to the peer before anything else: Node's NODE_HANDLE
  /// exchange needs an acknowledgement for every handle it passes. Descriptors the peer passed
  /// that no message took are closed as soon as no later message can take them, and reported
  /// as one error (errc::unexpected_descriptors) after the message that carried them.
  std::optional<channel_event> next(const json*& answer);

  /// What both channels do with what was read: decodes event after event, calls answer(message)
  /// with each answer Node's protocol asks for, before the event, then deliver(event), until
  /// deliver returns false or nothing complete is left.
  template <class Answer, class Deliver>
  void drain(Answer&& answer, Deliver&& deliver) {
    const json* reply = nullptr;
    while (auto event = next(reply)) {
      if (reply != nullptr) answer(*reply);
      if (!deliver(std::move(*event))) return;
    }
  }

  /// Gives back the memory of the message next() returned last, once nothing reads it any more;
  /// message is left with empty binary values. Large binary values are received into it again.
  void recycle(json& message) noexcept {
    inbox_.recycle(message);
    decoder_.recycle(message);
  }

  /// At the end of the stream: closes every descriptor the peer passed that no message took
  /// (those stream still holds too), and queues what next() then returns: an error if the
  /// stream ended inside a message, and one for those descriptors. Once: later calls do nothing.
  void finish(byte_stream& stream);

  /// true when the stream cannot go on (see message_decoder::broken).
  bool broken() const noexcept { return decoder_.broken(); }

  /// Bytes in shared memory the peer has not read yet.
  std::size_t shared_in_flight() const noexcept { return outbox_ ? outbox_->in_flight() : 0; }

 private:
  // What a decoded message means; nullopt for an internal message the codec handled itself.
  std::optional<channel_event> interpret(decoded&& message, const json*& answer);
  // After each message (decoded_end: where it ended), and at the end: closes the descriptors no
  // message can take any more, and says so.
  std::optional<error> settle_descriptors(std::uint64_t decoded_end);

  serialization mode_;
  std::size_t max_nesting_depth_;
  received_descriptors received_fds_;
  std::deque<error> pending_;  // events to return before decoding more
  bool finished_ = false;
  shm_inbox inbox_;
  message_decoder decoder_;
  std::optional<shm_outbox> outbox_;
};

}  // namespace forkipc::detail
