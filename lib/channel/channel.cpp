#include "channel/channel.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <optional>
#include <variant>

#include <boost/asio/post.hpp>

#include "transport/poll.hpp"

namespace forkipc::detail {

channel::channel(boost::asio::io_context& io, channel_link link, const channel_settings& settings,
                 channel_owner& owner, std::weak_ptr<void> owner_lifetime)
    : io_(io),
      socket_(io, boost::asio::local::stream_protocol(), link.socket.release()),
      stream_(socket_.native_handle(), std::move(link.rings)),
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
// Shared memory: how long one slice of spinning holds the loop before other handlers run.
constexpr std::chrono::microseconds spin_slice{5};

using clock = std::chrono::steady_clock;

}  // namespace

void channel::start() {
  if (state_ != state::closed) wait_readable();
}

void channel::wait_readable() {
  if (stream_.shared_memory()) {
    spin_until_ = clock::now() + byte_stream::spin_window;
    return spin();
  }
  socket_.async_wait(boost::asio::socket_base::wait_read,
                     [this, life = owner_lifetime_.lock()](boost::system::error_code ec) {
                       if (!ec && state_ != state::closed) on_readable();
                     });
}

void channel::spin() {
  boost::asio::post(io_, [this, life = owner_lifetime_.lock()] {
    if (state_ == state::closed) return;
    if (waiting_for_space_) on_writable();  // the peer may have read since
    try {
      if (stream_.spin_for_input(std::min(clock::now() + spin_slice, spin_until_))) return on_readable();
    } catch (error& problem) {
      return peer_broke(std::move(problem));
    }
    if (clock::now() < spin_until_) return spin();
    sleep_until_input();
  });
}

void channel::sleep_until_input() {
  try {
    // What the socket holds is taken first: Asio waits for a new edge on it. A wake-up taken
    // here may be the one a writer waiting for space needs: it writes on before this end sleeps.
    stream_.drain_socket();
    if (waiting_for_space_) on_writable();
    if (state_ == state::closed) return;
    if (stream_.prepare_to_sleep()) {
      stream_.awake();
      return on_readable();
    }
  } catch (error& problem) {
    return peer_broke(std::move(problem));
  }
  socket_.async_wait(boost::asio::socket_base::wait_read,
                     [this, life = owner_lifetime_.lock()](boost::system::error_code ec) {
                       stream_.awake();
                       if (ec || state_ == state::closed) return;
                       try {
                         stream_.drain_socket();
                       } catch (error& problem) {
                         return peer_broke(std::move(problem));
                       }
                       on_readable();
                     });
}

void channel::peer_broke(error&& problem) {
  if (state_ == state::closed) return;
  if (state_ == state::open) owner_.on_channel_error(std::move(problem));
  end_of_stream();
}

void channel::on_readable() {
  bool more;
  {
    const cork corked(*this);
    more = read_available(reads_per_turn);
  }
  flush_corked();
  if (state_ == state::closed) return;
  if (waiting_for_space_) on_writable();  // woken by the peer, which read some of the ring
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
    long got;
    try {
      got = codec_.receive(stream_, read_size);
    } catch (error& problem) {
      peer_broke(std::move(problem));
      return false;
    }
    if (got == -EAGAIN) return false;
    if (got <= 0) {  // the end, or ECONNRESET and the like: the peer is gone either way
      end_of_stream();
      return false;
    }
    deliver_decoded();
    if (codec_.broken()) end_of_stream();
    if (state_ == state::closed) return false;  // a listener disconnected and nothing was queued
    // A short read emptied the socket: new bytes will raise a new edge. No need to ask again.
    // A ring has no edge: while its producer keeps up, reading on costs less than a turn of
    // the loop per message.
    if (static_cast<std::size_t>(got) < read_size && !ring_has_more()) return false;
  }
  return true;
}

bool channel::ring_has_more() {
  if (!stream_.shared_memory()) return false;
  try {
    return stream_.has_input();
  } catch (const error&) {
    return true;  // a broken ring: the next read says so
  }
}

void channel::deliver_decoded() {
  codec_.drain(
      [this](const json& answer) {
        if (state_ == state::open) send(answer, {}, {});  // corked: leaves with this turn's replies
      },
      [this](channel_event&& event) {
        // After disconnect() the channel still reads, so that a peer blocked writing to it is
        // not deadlocked, but it delivers nothing more (a passed handle is closed here).
        if (state_ != state::open) return true;
        if (auto* in = std::get_if<incoming>(&event)) {
          owner_.on_channel_message(in->message, std::move(in->passed));
          codec_.recycle(in->message);
        } else if (auto* bytes = std::get_if<raw_bytes>(&event)) {
          owner_.on_channel_bytes(std::as_bytes(std::span(bytes->bytes.data(), bytes->bytes.size())));
        } else {
          owner_.on_channel_error(std::move(std::get<error>(event)));
        }
        return true;
      });
}

void channel::end_of_stream() {
  if (state_ == state::closed) return;
  codec_.finish(stream_);  // a message cut off, descriptors no message took: told now
  deliver_decoded();
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
  codec_.finish(stream_);  // no-op after end_of_stream(); else what the peer passed closes unheard
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
  return enqueue(
      [&](write_queue& queue, callback&& written) {
        codec_.push(queue, message, std::move(passed), std::move(written));
      },
      std::move(on_sent));
}

bool channel::send_bytes(std::span<const std::byte> bytes, std::function<void(std::error_code)> on_sent) {
  return enqueue([&](write_queue& queue, callback&& written) {
    codec_.push_bytes(queue, bytes, std::move(written));
  }, std::move(on_sent));
}

template <class Push>
bool channel::enqueue(Push&& push, std::function<void(std::error_code)> on_sent) {
  settled outcome;
  bool accepted = false, below_high_water = false;
  std::optional<std::size_t> waiting;  // set when the queue is too full to take it
  {
    std::lock_guard lock(mutex_);
    // A peer that does not read must not make this process grow without bound.
    if (state_ == state::open && !write_failed_ && queue_.size() >= max_queued_bytes_) {
      waiting = queue_.size();
    } else if (state_ == state::open && !write_failed_) {
      push(queue_, std::move(on_sent));  // throws before queuing anything
      accepted = true;
      const bool corked = corked_by_.load() == std::this_thread::get_id();
      if (codec_.streaming()) {
        // The peer copies a streamed value out while it is copied in: the message goes now,
        // corked or not.
        if (!write_scheduled_) write_or_wait_locked(outcome);
        stream_locked(outcome);
      } else if (!write_scheduled_ && !corked) {
        if (io_.get_executor().running_in_this_thread()) {
          // On the loop's thread, the sends of this turn go together, right after it: one
          // system call for the replies of many HTTP sessions to one pool worker, say (and on
          // a ring, one publication, and one look for a sleeping reader).
          write_scheduled_ = true;
          boost::asio::post(io_, [this, life = owner_lifetime_.lock()] { on_writable(); });
        } else {
          write_or_wait_locked(outcome);
        }
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
    waiting_for_space_ = false;
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

int channel::write_locked(settled& outcome) {
  if (write_failed_) return EPIPE;
  int result;
  try {
    result = stream_.write(queue_, outcome.written);
  } catch (error& problem) {  // the peer broke the shared memory
    report_error_later(std::move(problem));
    result = EPROTO;
  }
  if (result == 0 || result == EAGAIN || result == byte_stream::ring_full) return result;
  write_failed_ = true;
  drop_queue_locked(outcome);
  return result;
}

void channel::write_or_wait_locked(settled& outcome) {
  for (;;) {
    const int result = write_locked(outcome);
    if (queue_.empty() || write_failed_) return;
    write_scheduled_ = true;
    if (result == byte_stream::ring_full) {
      // The peer wakes this end through the socket once it has read some, and the read side,
      // which watches the socket (or spins), then writes on.
      if (stream_.prepare_to_wait_for_space()) {
        write_scheduled_ = false;
        continue;  // it read some meanwhile
      }
      waiting_for_space_ = true;
      return;
    }
    break;
  }
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
  if (!outcome.written.empty()) run(outcome.written, {});
  if (!outcome.failed.empty()) run(outcome.failed, errc::channel_closed);
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
  std::lock_guard lock(mutex_);
  if (state_ == state::closed || write_failed_) return;
  std::vector<callback> ignored;  // the process is ending: nobody is left to tell
  try {
    stream_.write_all(queue_, ignored, deadline{});
  } catch (const error&) {
    // The peer broke the shared memory: what is left cannot reach it.
  }
}

void channel::report_error_later(error problem) {
  boost::asio::post(io_, [this, life = owner_lifetime_.lock(), problem = std::move(problem)]() mutable {
    owner_.on_channel_error(std::move(problem));
  });
}

}  // namespace forkipc::detail
