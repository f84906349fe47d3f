#include "channel_codec.hpp"

#include "handle_passing.hpp"
#include "socket_io.hpp"

namespace forkipc::detail {

channel_codec::channel_codec(const channel_settings& settings)
    : mode_(settings.mode),
      inbox_(received_fds_, settings.limits.max_message_size),
      decoder_(settings.mode, settings.limits.max_message_size, &inbox_) {
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
            encode_message(mode_, handle_envelope(message, passed.fd()), out, spill);
          } else {
            encode_message(mode_, message, out, spill);
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

long channel_codec::receive(int fd, std::size_t read_size) {
  inbox_.watch(fd);
  return receive_some(fd, decoder_.buffer(), received_fds_, read_size);
}

std::optional<channel_event> channel_codec::next(const json*& answer) {
  answer = nullptr;
  while (auto decoded = decoder_.next()) {
    if (auto* message = std::get_if<json>(&*decoded)) return incoming{std::move(*message), {}};
    if (auto* problem = std::get_if<error>(&*decoded)) return std::move(*problem);
    json& internal = std::get<internal_message>(*decoded).value;
    switch (handle_command_of(internal)) {
      case handle_command::handle: {
        // The descriptor came with the message's first byte: it is the oldest unclaimed one.
        if (received_fds_.empty()) {
          answer = &handle_nack();
          return error(errc::malformed_message,
                       "the peer passed a handle whose descriptor did not arrive; asked it to "
                       "send again (NODE_HANDLE_NACK)");
        }
        incoming in{std::move(internal["msg"]), forkipc::handle(received_fds_.front().release())};
        received_fds_.pop_front();
        answer = &handle_ack();
        return in;
      }
      case handle_command::ack:
        continue;  // forkipc closes its copy once sent: nothing waits for this
      case handle_command::nack:
        return error(errc::channel_closed,
                     "the peer did not receive a handle passed to it (NODE_HANDLE_NACK); the "
                     "descriptor was closed already and is not sent again");
      case handle_command::none:
        return internal_message{std::move(internal)};
    }
  }
  return std::nullopt;
}

}  // namespace forkipc::detail
