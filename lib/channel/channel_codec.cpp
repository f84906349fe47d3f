#include "channel/channel_codec.hpp"

#include "codec/json_walk.hpp"
#include "channel/handle_passing.hpp"

namespace forkipc::detail {

channel_codec::channel_codec(const channel_settings& settings)
    : mode_(settings.mode),
      max_nesting_depth_(settings.limits.max_nesting_depth),
      inbox_(received_fds_, settings.limits.max_message_size),
      decoder_(settings.mode, settings.limits, &inbox_) {
  if (settings.mode == serialization::binary && settings.limits.shared_memory_threshold > 0)
    outbox_.emplace(settings.limits.shared_memory_threshold);
}

void channel_codec::push(write_queue& queue, const json& message, forkipc::handle passed,
                         write_queue::callback on_written) {
  binary_spill* spill = outbox_ ? &*outbox_ : nullptr;
  if (outbox_) outbox_->begin();
  try {
    queue.push(
        [&](std::string& out) {
          if (passed) {
            // The envelope copies the message, and a copy recurses: look at its depth first.
            // (The envelope is one level more.)
            if (max_nesting_depth_ == 0 || !nested_within(message, max_nesting_depth_ - 1))
              throw_too_deep_to_encode(max_nesting_depth_);
            encode_message(mode_, handle_envelope(message, passed.fd()), out, spill, max_nesting_depth_);
          } else {
            encode_message(mode_, message, out, spill, max_nesting_depth_);
          }
        },
        std::move(on_written));
  } catch (...) {
    if (outbox_) outbox_->rollback();
    throw;
  }
  // The regions first: the message's references to them are decoded before its handle is
  // claimed.
  if (outbox_)
    for (unique_fd& region : outbox_->commit()) queue.attach(std::move(region));
  if (passed) queue.attach(std::move(passed));
}

void channel_codec::push_bytes(write_queue& queue, std::span<const std::byte> bytes,
                               write_queue::callback on_written) {
  if (mode_ != serialization::binary) {
    throw error(errc::unsupported_serialization,
                std::string("cannot send bytes in ") + (mode_ == serialization::json ? "json" : "advanced") +
                    " serialization, which has no frames of raw bytes (the parent must fork the child with "
                    "serialization::binary; in advanced, a binary value is a Buffer)");
  }
  queue.push([&](std::string& out) { encode_bytes_frame(bytes, out); }, std::move(on_written));
}

long channel_codec::receive(byte_stream& stream, std::size_t read_size) {
  inbox_.watch(stream.socket());
  return stream.read(decoder_.buffer(), received_fds_, read_size);
}

std::optional<channel_event> channel_codec::next(const json*& answer) {
  answer = nullptr;
  if (!pending_.empty()) {
    error next = std::move(pending_.front());
    pending_.pop_front();
    return next;
  }
  while (auto decoded = decoder_.next()) {
    std::optional<channel_event> event = interpret(std::move(*decoded), answer);
    if (auto leftover = settle_descriptors(decoder_.buffer().position())) {
      if (!event) return leftover;
      pending_.push_back(std::move(*leftover));
    }
    if (event) return event;
  }
  return std::nullopt;
}

void channel_codec::finish(byte_stream& stream) {
  if (std::exchange(finished_, true)) return;
  if (auto truncated = decoder_.finish()) pending_.push_back(std::move(*truncated));
  stream.hand_over(received_fds_, true);
  if (auto leftover = settle_descriptors(UINT64_MAX)) pending_.push_back(std::move(*leftover));
}

std::optional<channel_event> channel_codec::interpret(decoded&& message, const json*& answer) {
  if (auto* value = std::get_if<json>(&message)) return incoming{std::move(*value), {}};
  if (auto* problem = std::get_if<error>(&message)) return std::move(*problem);
  if (auto* bytes = std::get_if<raw_bytes>(&message)) return *bytes;
  json& internal = std::get<internal_message>(message).value;
  switch (handle_command_of(internal)) {
    case handle_command::handle: {
      // Node passes exactly one descriptor, with the message's first byte.
      unique_fd passed = received_fds_.take(decoder_.last_span());
      if (!passed) {
        answer = &handle_nack();
        return error(errc::malformed_message,
                     "the peer passed a handle whose descriptor did not arrive; asked it to "
                     "send again (NODE_HANDLE_NACK)");
      }
      answer = &handle_ack();
      return incoming{std::move(internal["msg"]), std::move(passed)};
    }
    case handle_command::ack:
      return std::nullopt;  // forkipc closes its copy once sent: nothing waits for this
    case handle_command::nack:
      return error(errc::channel_closed,
                   "the peer did not receive a handle passed to it (NODE_HANDLE_NACK); the "
                   "descriptor was closed already and is not sent again");
    case handle_command::none:
      return std::nullopt;  // Node's other internal messages (its cluster's) mean nothing here
  }
  return std::nullopt;
}

std::optional<error> channel_codec::settle_descriptors(std::uint64_t decoded_end) {
  // Every byte before decoded_end is decoded: what came with them and was not taken belongs to
  // no message still to come.
  received_fds_.settle(decoded_end);
  const auto closed = received_fds_.take_closed();
  if (!closed) return std::nullopt;
  std::string what = "the peer passed ";
  if (closed.closed > 0) {
    what += std::to_string(closed.closed) + (closed.closed == 1 ? " descriptor" : " descriptors") +
            " that no message takes";
    if (closed.truncated) what += ", and ";
  }
  if (closed.truncated) what += "more descriptors in one write than a read takes (the kernel dropped the rest)";
  what += mode_ != serialization::binary
              ? "; in Node's serializations only a NODE_HANDLE message carries one, and only one. They were closed"
              : "; they were closed";
  return error(errc::unexpected_descriptors, std::move(what));
}

}  // namespace forkipc::detail
