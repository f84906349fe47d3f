#include "channel/blocking_channel.hpp"

#include <cerrno>
#include <cstdint>
#include <variant>

#include <forkipc/error.hpp>


namespace forkipc::detail {

blocking_channel::blocking_channel(channel_link link, const channel_settings& settings)
    : socket_(std::move(link.socket)), stream_(socket_.get(), std::move(link.rings)), codec_(settings) {}

void blocking_channel::send(const json& message, forkipc::handle passed) {
  if (!socket_) throw error(errc::channel_closed, "cannot send a message");
  codec_.push(queue_, message, std::move(passed), {});
  write_queued();
}

void blocking_channel::send_bytes(std::span<const std::byte> bytes) {
  if (!socket_) throw error(errc::channel_closed, "cannot send bytes");
  codec_.push_bytes(queue_, bytes, {});
  write_queued();
}

void blocking_channel::write_queued() {
  std::vector<write_queue::callback> none;
  int failed;
  try {
    failed = stream_.write_all(queue_, none, deadline{});
  } catch (const error&) {  // the peer broke the shared memory, or the socket beside it
    queue_.clear(none);
    codec_.discard_stream();
    close();
    throw;
  }
  if (failed != 0) {
    queue_.clear(none);
    codec_.discard_stream();
    throw error(errc::channel_closed, "cannot send a message: the peer closed the channel (" +
                                          std::generic_category().message(failed) + ")");
  }
  if (!codec_.streaming()) return;
  try {
    codec_.stream(true);
  } catch (const error&) {
    close();  // the peer waits for bytes that will not come: the end of the channel stops it
    throw;
  }
}

std::optional<blocking_received> blocking_channel::receive(const deadline& until) {
  for (;;) {
    std::optional<channel_event> event;
    codec_.drain(
        [this](const json& answer) {
          if (at_end_) return;
          try {
            send(answer);
          } catch (const error&) {
            // the peer is gone: the next read says so
          }
        },
        [&event](channel_event&& next) {
          event = std::move(next);
          return false;
        });
    if (event) {
      if (auto* in = std::get_if<incoming>(&*event)) return std::move(*in);
      if (auto* bytes = std::get_if<raw_bytes>(&*event))
        return std::as_bytes(std::span(bytes->bytes.data(), bytes->bytes.size()));
      if (codec_.broken()) close();
      throw std::move(std::get<error>(*event));
    }
    if (at_end_) return std::nullopt;
    long got;
    try {
      if (!stream_.wait_readable(until)) return std::nullopt;
      got = codec_.receive(stream_);
    } catch (const error&) {  // the peer broke the shared memory: the channel cannot go on
      close();
      throw;
    }
    if (got > 0 || got == -EAGAIN) continue;
    at_end_ = true;  // the end, or ECONNRESET and the like: the peer is gone either way
    codec_.finish(stream_);  // what it says (a message cut off, descriptors no message took) comes next
  }
}

std::optional<std::pair<json, forkipc::handle>> with_handle(std::optional<blocking_received>&& in) {
  if (!in) return std::nullopt;
  if (auto* message = std::get_if<incoming>(&*in))
    return std::pair{std::move(message->message), std::move(message->passed)};
  const auto bytes = std::get<std::span<const std::byte>>(*in);
  const auto* first = reinterpret_cast<const std::uint8_t*>(bytes.data());
  return std::pair{json::binary(json::binary_t::container_type(first, first + bytes.size())),
                   forkipc::handle()};
}

std::optional<std::variant<json, std::span<const std::byte>>> without_handle(
    std::optional<blocking_received>&& in) {
  if (!in) return std::nullopt;
  if (auto* message = std::get_if<incoming>(&*in)) return std::move(message->message);
  return std::get<std::span<const std::byte>>(*in);
}

void blocking_channel::close() noexcept {
  socket_.reset();
  at_end_ = true;
  codec_.finish(stream_);  // closes what the peer passed that no message took
}

}  // namespace forkipc::detail
