#include "channel.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <optional>
#include <variant>

#include <boost/asio/post.hpp>

#include "poll.hpp"
#include "socket_io.hpp"

namespace forkipc::detail {

channel::channel(boost::asio::io_context& io, unique_fd socket, const channel_settings& settings,
                 channel_owner& owner, std::weak_ptr<void> owner_lifetime)
    : io_(io),
      socket_(io, boost::asio::local::stream_protocol(), socket.release()),
      owner_(owner),
      owner_lifetime_(std::move(owner_lifetime)),
      codec_(settings),
      max_queued_bytes_(settings.limits.max_queued_bytes) {}

// The channel's own callbacks run under a cork; see the class comment.
class channel::cork {
 public:
  explicit cork(channel& c) noexcept
      : channel_(c), outermost_(c.corked_by_.load() != std::this_thread::get_id()) {
    if (outermost_) channel_.corked_by_ = std::this_thread::get_id();
  }
  ~cork() {
    if (outermost_) channel_.corked_by_ = std::thread::id();
  }
  cork(const cork&) = delete;
  cork& operator=(const cork&) = delete;

 private:
  channel& channel_;
  bool outermost_;
};

namespace {

constexpr std::size_t read_size = 64 * 1024;
// Full reads per wake-up before the channel lets other handlers run.
constexpr int reads_per_turn = 16;

}  // namespace

void channel::start() {
  if (state_ != state::closed) wait_readable();
}

void channel::wait_readable() {
  socket_.async_wait(boost::asio::socket_base::wait_read,
                     [this, life = owner_lifetime_.lock()](boost::system::error_code ec) {
                       if (!ec && state_ != state::closed) on_readable();
                     });
}

void channel::on_readable() {
  bool more;
  {
    const cork corked(*this);
    more = read_available(reads_per_turn);
  }
  flush_corked();
  if (state_ == state::closed) return;
  if (more) {
    // Asio watches the socket edge-triggered: waiting now could miss bytes already there. Come
    // back after the handlers queued meanwhile instead.
    boost::asio::post(io_, [this, life = owner_lifetime_.lock()] {
      if (state_ != state::closed) on_readable();
    });
  } else {
    wait_readable();
  }
}

bool channel::read_available(int max_reads) {
  for (int reads = 0; max_reads == 0 || reads < max_reads; ++reads) {
    const long got = codec_.receive(socket_.native_handle(), read_size);
    if (got == -EAGAIN) return false;
    if (got <= 0) {  // the end, or ECONNRESET and the like: the peer is gone either way
      end_of_stream();
      return false;
    }
    deliver_decoded();
    if (state_ == state::closed) return false;  // a listener disconnected and nothing was queued
    // A short read emptied the socket: new bytes will raise a new edge. No need to ask again.
    if (static_cast<std::size_t>(got) < read_size) return false;
  }
  return true;
}

void channel::deliver_decoded() {
  const json* answer = nullptr;
  while (auto event = codec_.next(answer)) {
    if (answer != nullptr && state_ == state::open) send(*answer, {}, {});  // corked: leaves with this turn's replies
    // After disconnect() the channel still reads, so that a peer blocked writing to it is not
    // deadlocked, but it delivers nothing more (a passed handle is closed here).
    if (state_ != state::open) continue;
    if (auto* in = std::get_if<incoming>(&*event)) {
      owner_.on_channel_message(in->message, std::move(in->passed));
      codec_.recycle(in->message);
    } else if (auto* internal = std::get_if<internal_message>(&*event)) {
      owner_.on_channel_internal(std::move(internal->value));
    } else {
      owner_.on_channel_error(std::move(std::get<error>(*event)));
    }
  }
  if (codec_.broken()) end_of_stream();
}

void channel::end_of_stream() {
  if (auto truncated = codec_.finish(); truncated && state_ == state::open)
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
  {
    const cork corked(*this);
    read_available(0);
  }
  if (state_ != state::closed) end_of_stream();
}

bool channel::send(const json& message, forkipc::handle passed,
                   std::function<void(std::error_code)> on_sent) {
  settled outcome;
  bool accepted = false, below_high_water = false;
  std::optional<std::size_t> waiting;  // set when the queue is too full to take it
  {
    std::lock_guard lock(mutex_);
    // A peer that does not read must not make this process grow without bound.
    if (state_ == state::open && !write_failed_ && queue_.size() >= max_queued_bytes_) {
      waiting = queue_.size();
    } else if (state_ == state::open && !write_failed_) {
      accepted = true;
      codec_.push(queue_, message, std::move(passed), std::move(on_sent));
      const bool corked = corked_by_.load() == std::this_thread::get_id();
      if (codec_.streaming()) {
        // The peer copies a streamed value out while it is copied in: the message goes now,
        // corked or not.
        if (!write_scheduled_) write_or_wait_locked(outcome);
        stream_locked(outcome);
      } else if (!write_scheduled_ && !corked) {
        write_or_wait_locked(outcome);
      }
      below_high_water =
          !write_failed_ && queue_.size() + codec_.shared_in_flight() < high_water_mark;
    }
  }
  if (waiting) {
    error full(errc::send_queue_full, "cannot send a message: " + std::to_string(*waiting) +
                                          " bytes already wait to be written (max_queued_bytes is " +
                                          std::to_string(max_queued_bytes_) + "), as the peer does not read");
    if (on_sent) {
      boost::asio::post(io_, [on_sent = std::move(on_sent), ec = full.code()] { on_sent(ec); });
    } else {
      report_error_later(std::move(full));
    }
  } else if (!accepted) {
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
  {
    std::lock_guard lock(mutex_);
    if (state_ == state::closed) return;
    write_scheduled_ = false;
    write_or_wait_locked(outcome);
  }
  {
    const cork corked(*this);
    tell(outcome, true);
  }
  flush_corked();
}

void channel::flush_corked() {
  for (;;) {
    settled outcome;
    bool close = false;
    {
      std::lock_guard lock(mutex_);
      if (state_ == state::closed) return;
      if (!write_scheduled_) write_or_wait_locked(outcome);
      close = state_ == state::closing && queue_.empty();
    }
    const bool completed = !outcome.written.empty() || !outcome.failed.empty();
    {
      const cork corked(*this);  // what the callbacks send goes in the next round
      tell(outcome, true);
    }
    if (close) return close_now();
    if (!completed) return;
  }
}

void channel::write_locked(settled& outcome) {
  if (write_failed_) return;
  const int result = send_queued(socket_.native_handle(), queue_, outcome.written);
  if (result == 0 || result == EAGAIN) return;
  write_failed_ = true;
  drop_queue_locked(outcome);
}

void channel::write_or_wait_locked(settled& outcome) {
  write_locked(outcome);
  if (queue_.empty() || write_failed_) return;
  write_scheduled_ = true;
  const auto resume = [this, life = owner_lifetime_.lock()](boost::system::error_code ec = {}) {
    if (!ec) on_writable();
  };
  if (io_.get_executor().running_in_this_thread()) {
    socket_.async_wait(boost::asio::socket_base::wait_write, resume);
  } else {
    boost::asio::post(io_, resume);  // the socket's operations belong to the loop's thread
  }
}

void channel::stream_locked(settled& outcome) {
  if (write_failed_) return codec_.discard_stream();
  try {
    codec_.stream(queue_.empty());
  } catch (const error& problem) {
    // The peer waits for bytes that will not come: end the channel, so that it stops waiting.
    write_failed_ = true;
    drop_queue_locked(outcome);
    ::shutdown(socket_.native_handle(), SHUT_RDWR);
    report_error_later(problem);
  }
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
