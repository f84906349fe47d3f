#include "channel.hpp"

#include <cerrno>
#include <variant>

#include <boost/asio/post.hpp>

#include "poll.hpp"
#include "socket_io.hpp"

namespace forkipc::detail {

channel::channel(boost::asio::io_context& io, unique_fd socket, std::size_t max_message_size,
                 channel_owner& owner, std::weak_ptr<void> owner_lifetime)
    : io_(io),
      socket_(io, boost::asio::local::stream_protocol(), socket.release()),
      decoder_(max_message_size),
      owner_(owner),
      owner_lifetime_(std::move(owner_lifetime)) {}

void channel::start() {
  if (state_ != state::closed) wait_readable();
}

void channel::wait_readable() {
  socket_.async_wait(boost::asio::socket_base::wait_read,
                     [this, life = owner_lifetime_.lock()](boost::system::error_code ec) {
                       if (ec || state_ == state::closed) return;
                       // A bounded number of reads per wake-up keeps one busy channel from
                       // starving the rest of the io_context.
                       read_available(16);
                       if (state_ != state::closed) wait_readable();
                     });
}

void channel::read_available(int max_reads) {
  for (int reads = 0; max_reads == 0 || reads < max_reads; ++reads) {
    const long got = receive_some(socket_.native_handle(), decoder_);
    if (got == -EAGAIN) return;
    if (got <= 0) {  // the end, or ECONNRESET and the like: the peer is gone either way
      end_of_stream();
      return;
    }
    deliver_decoded();
    if (state_ == state::closed) return;  // a listener disconnected and nothing was queued
  }
}

void channel::deliver_decoded() {
  while (auto decoded = decoder_.next()) {
    // After disconnect() the channel still reads, so that a peer blocked writing to it is not
    // deadlocked, but it delivers nothing more.
    if (state_ != state::open) continue;
    if (auto* message = std::get_if<json>(&*decoded)) {
      owner_.on_channel_message(std::move(*message));
    } else if (auto* internal = std::get_if<internal_message>(&*decoded)) {
      owner_.on_channel_internal(std::move(internal->value));
    } else {
      owner_.on_channel_error(std::move(std::get<error>(*decoded)));
    }
  }
}

void channel::end_of_stream() {
  if (auto truncated = decoder_.finish(); truncated && state_ == state::open)
    owner_.on_channel_error(std::move(*truncated));
  close_now();
}

void channel::close_now() {
  settled outcome;
  {
    std::lock_guard lock(mutex_);
    if (state_ == state::closed) return;
    state_ = state::closed;
    drop_queue_locked(outcome);
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
  tell(outcome, false);
  boost::asio::post(io_, [this, life = owner_lifetime_.lock()] { owner_.on_channel_closed(); });
}

void channel::disconnect() {
  {
    std::lock_guard lock(mutex_);
    if (state_ != state::open) return;
    if (!queue_.empty()) {
      state_ = state::closing;  // on_writable() closes once the queue is written
      return;
    }
  }
  close_now();
}

void channel::drain_and_close() {
  if (state_ == state::closed) return;
  read_available(0);
  if (state_ != state::closed) end_of_stream();
}

bool channel::send(const json& message, std::function<void(std::error_code)> on_sent) {
  settled outcome;
  bool accepted = false, below_high_water = false;
  {
    std::lock_guard lock(mutex_);
    if (state_ == state::open && !write_failed_) {
      accepted = true;
      queue_.push([&](std::string& out) { encode_json_line(message, out); }, std::move(on_sent));
      if (!write_scheduled_) {
        if (!io_.get_executor().running_in_this_thread()) write_locked(outcome);
        if (!queue_.empty()) {
          write_scheduled_ = true;
          boost::asio::post(io_, [this, life = owner_lifetime_.lock()] { on_writable(); });
        }
      }
      below_high_water = !write_failed_ && queue_.size() < high_water_mark;
    }
  }
  if (!accepted) {
    if (on_sent) {
      outcome.failed.push_back(std::move(on_sent));
    } else {
      report_error_later(error(errc::channel_closed, "cannot send a message"));
    }
  }
  tell(outcome, false);
  return below_high_water;
}

void channel::on_writable() {
  settled outcome;
  bool close = false;
  {
    std::lock_guard lock(mutex_);
    if (state_ == state::closed) return;
    write_locked(outcome);
    if (!queue_.empty()) {
      socket_.async_wait(boost::asio::socket_base::wait_write,
                         [this, life = owner_lifetime_.lock()](boost::system::error_code ec) {
                           if (!ec) on_writable();
                         });
    } else {
      write_scheduled_ = false;
      close = state_ == state::closing;
    }
  }
  tell(outcome, true);
  if (close) close_now();
}

void channel::write_locked(settled& outcome) {
  if (write_failed_) return;
  const int result = send_queued(socket_.native_handle(), queue_, outcome.written);
  if (result == 0 || result == EAGAIN) return;
  write_failed_ = true;
  drop_queue_locked(outcome);
}

void channel::drop_queue_locked(settled& outcome) {
  outcome.dropped_bytes += queue_.size();
  queue_.clear(outcome.failed);
}

void channel::tell(settled& outcome, bool from_own_handler) {
  const auto run = [&](std::vector<callback>& callbacks, std::error_code ec) {
    for (auto& cb : callbacks) {
      if (from_own_handler) {
        cb(ec);
      } else {
        boost::asio::post(io_, [cb = std::move(cb), ec] { cb(ec); });
      }
    }
  };
  run(outcome.written, {});
  run(outcome.failed, errc::channel_closed);
  if (outcome.dropped_bytes > 0) {
    report_error_later(error(errc::channel_closed, std::to_string(outcome.dropped_bytes) +
                                                       " bytes of queued messages were not sent"));
  }
}

void channel::abandon() noexcept {
  std::lock_guard lock(mutex_);
  state_ = state::closed;
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void channel::flush_for_exit() {
  settled ignored;
  std::lock_guard lock(mutex_);
  while (state_ != state::closed && !write_failed_ && !queue_.empty()) {
    write_locked(ignored);
    if (!queue_.empty()) wait_writable(socket_.native_handle(), deadline{});
  }
}

void channel::report_error_later(error problem) {
  boost::asio::post(io_, [this, life = owner_lifetime_.lock(), problem = std::move(problem)]() mutable {
    owner_.on_channel_error(std::move(problem));
  });
}

}  // namespace forkipc::detail
