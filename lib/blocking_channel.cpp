#include "blocking_channel.hpp"

#include <cerrno>
#include <variant>

#include <forkipc/error.hpp>

#include "socket_io.hpp"

namespace forkipc::detail {

blocking_channel::blocking_channel(unique_fd socket, const channel_settings& settings)
    : socket_(std::move(socket)), codec_(settings) {}

void blocking_channel::send(const json& message, forkipc::handle passed) {
  if (!socket_) throw error(errc::channel_closed, "cannot send a message");
  codec_.push(queue_, message, std::move(passed), {});
  std::vector<write_queue::callback> none;
  for (;;) {
    const int result = send_queued(socket_.get(), queue_, none);
    if (result == 0) break;
    if (result != EAGAIN) {
      queue_.clear(none);
      codec_.discard_stream();
      throw error(errc::channel_closed, "cannot send a message: the peer closed the channel (" +
                                            std::generic_category().message(result) + ")");
    }
    wait_writable(socket_.get(), deadline{});
  }
  if (!codec_.streaming()) return;
  try {
    codec_.stream(true);
  } catch (const error&) {
    close();  // the peer waits for bytes that will not come: the end of the channel stops it
    throw;
  }
}

std::optional<incoming> blocking_channel::receive(const deadline& until) {
  for (;;) {
    const json* answer = nullptr;
    while (auto event = codec_.next(answer)) {
      if (answer != nullptr && !at_end_) {
        try {
          send(*answer);
        } catch (const error&) {
          // the peer is gone: the next read says so
        }
      }
      if (auto* in = std::get_if<incoming>(&*event)) return std::move(*in);
      if (auto* problem = std::get_if<error>(&*event)) {
        if (codec_.broken()) close();
        throw std::move(*problem);
      }
      // other internal messages: none needs an answer
    }
    if (at_end_) return std::nullopt;
    if (!wait_readable(socket_.get(), until)) return std::nullopt;
    const long got = codec_.receive(socket_.get());
    if (got > 0 || got == -EAGAIN) continue;
    at_end_ = true;  // the end, or ECONNRESET and the like: the peer is gone either way
    if (auto truncated = codec_.finish()) throw std::move(*truncated);
  }
}

void blocking_channel::close() noexcept {
  socket_.reset();
  at_end_ = true;
}

}  // namespace forkipc::detail
