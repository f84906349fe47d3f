#include "blocking_channel.hpp"

#include <cerrno>
#include <variant>

#include <forkipc/error.hpp>

#include "socket_io.hpp"

namespace forkipc::detail {

blocking_channel::blocking_channel(unique_fd socket, std::size_t max_message_size)
    : socket_(std::move(socket)), decoder_(max_message_size) {}

void blocking_channel::send(const json& message) {
  if (!socket_) throw error(errc::channel_closed, "cannot send a message");
  queue_.push([&](std::string& out) { encode_json_line(message, out); }, {});
  std::vector<write_queue::callback> none;
  for (;;) {
    const int result = send_queued(socket_.get(), queue_, none);
    if (result == 0) return;
    if (result != EAGAIN) {
      queue_.clear(none);
      throw error(errc::channel_closed, "cannot send a message: the peer closed the channel (" +
                                            std::generic_category().message(result) + ")");
    }
    wait_writable(socket_.get(), deadline{});
  }
}

std::optional<json> blocking_channel::receive(const deadline& until) {
  for (;;) {
    while (auto decoded = decoder_.next()) {
      if (auto* message = std::get_if<json>(&*decoded)) return std::move(*message);
      if (auto* problem = std::get_if<error>(&*decoded)) throw std::move(*problem);
      // internal messages: none needs an answer yet
    }
    if (at_end_) return std::nullopt;
    if (!wait_readable(socket_.get(), until)) return std::nullopt;
    const long got = receive_some(socket_.get(), decoder_);
    if (got > 0 || got == -EAGAIN) continue;
    at_end_ = true;  // the end, or ECONNRESET and the like: the peer is gone either way
    if (auto truncated = decoder_.finish()) throw std::move(*truncated);
  }
}

void blocking_channel::close() noexcept {
  socket_.reset();
  at_end_ = true;
}

}  // namespace forkipc::detail
