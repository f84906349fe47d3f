// channel: one connected Unix stream socket on an io_context, carrying json-line messages.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <system_error>
#include <thread>

#include <forkipc/detail/asio.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <forkipc/error.hpp>
#include <forkipc/json.hpp>

#include "channel/channel_codec.hpp"
#include "transport/byte_stream.hpp"
#include "unique_fd.hpp"
#include "transport/write_queue.hpp"

namespace forkipc::detail {

/// What a channel reports to the object that owns it, always on the io_context's thread.
class channel_owner {
 public:
  /// passed holds the descriptor the message passed, if any. message lives until the call
  /// returns: the channel then reuses its memory.
  virtual void on_channel_message(const json& message, forkipc::handle&& passed) = 0;
  /// A frame of raw bytes (send_bytes), valid until the call returns.
  virtual void on_channel_bytes(std::span<const std::byte> bytes) = 0;
  virtual void on_channel_error(error&& problem) = 0;
  /// The channel is closed for good, from either side; reported once, after every message.
  virtual void on_channel_closed() = 0;

 protected:
  ~channel_owner() = default;
};

/// The transport both child_process and parent_process hold. Reading: readiness from the
/// io_context, then recv() straight into the decoder's buffer until the socket is empty (on
/// shared memory: the ring, looked at in short slices between the loop's other handlers for a
/// spin window, then asleep on the socket until the producer wakes it). Writing:
/// send() from any thread appends to a queue under a mutex. From another thread than the loop's
/// (or before the loop runs), it writes at once when nothing was queued, so that a child that
/// never runs its loop still gets its messages out. While the channel runs its own callbacks
/// (delivering messages, completing writes), sends from that thread only queue, and leave
/// together in one sendmsg when the callbacks return: a burst of replies costs one system call,
/// and a single reply no detour through the io_context's queue. Other handlers on the loop's
/// thread (an HTTP session sending to a pool worker, say) queue too, and one posted flush writes
/// what the handlers of that turn sent.
class channel {
 public:
  /// Above this many unwritten bytes send() returns false (Node's figure).
  static constexpr std::size_t high_water_mark = 128 * 1024;

  /// Every asynchronous operation holds owner_lifetime (the owner's shared_ptr), so the owner
  /// and this channel, which it contains, live as long as one is pending.
  /// Past settings.limits.max_queued_bytes of unwritten bytes, send() refuses (errc::send_queue_full).
  channel(boost::asio::io_context& io, channel_link link, const channel_settings& settings,
          channel_owner& owner, std::weak_ptr<void> owner_lifetime);

  /// Starts reading. Before it, sends already work.
  void start();

  /// Any thread. See child_process::send(); passed, when not empty, goes with the message.
  bool send(const json& message, forkipc::handle passed, std::function<void(std::error_code)> on_sent);

  /// Any thread. See child_process::send_bytes().
  bool send_bytes(std::span<const std::byte> bytes, std::function<void(std::error_code)> on_sent);

  /// No message is delivered after it; what is queued is written, then the socket is closed.
  void disconnect();

  /// The peer process has ended: delivers what it wrote (all of it is in the socket's buffer by
  /// now), then closes, even if another process still holds the peer's end.
  void drain_and_close();

  /// Blocks until everything queued is written or the peer is gone: for a process that exits.
  void flush_for_exit();

  /// Closes the socket at once, reporting nothing: for an owner being destroyed.
  void abandon() noexcept;

  /// true until disconnect() or the channel closed.
  bool is_open() const noexcept { return state_.load() == state::open; }

 private:
  enum class state { open, closing, closed };
  using callback = write_queue::callback;

  // Sends from the thread that holds a cork only queue; the outermost cork's holder flushes.
  class cork;

  // What send() and send_bytes() share: push(queue, on_sent) encodes the message into the
  // queue, under the mutex, unless the channel is closed or its queue full.
  template <class Push>
  bool enqueue(Push&& push, std::function<void(std::error_code)> on_sent);
  void wait_readable();
  // Shared memory: a slice of spinning on the ring, posted, until the spin window passes.
  void spin();
  // Shared memory: asleep on the socket until the peer wakes this end (or ends).
  void sleep_until_input();
  void on_readable();
  // The peer broke the shared memory or its socket protocol: the channel cannot go on.
  void peer_broke(error&& problem);
  // Reads until the socket is empty, or max_reads full reads (0: no limit); true in the latter
  // case, when data may be left.
  bool read_available(int max_reads);
  // Shared memory: bytes came into the ring since the last read.
  bool ring_has_more();
  void deliver_decoded();
  void end_of_stream();
  void close_now();
  void on_writable();

  // What became of queued messages under the mutex, to be told once it is released.
  struct settled {
    std::vector<callback> written, failed;
    std::size_t dropped_bytes = 0;  // never written: the peer went away, or the channel closed
  };
  // With mutex_ held: writes what the stream takes; a failure drops the rest of the queue.
  // Returns byte_stream::write's result.
  int write_locked(settled& outcome);
  // With mutex_ held: writes, and waits for the socket to take the rest, if any.
  void write_or_wait_locked(settled& outcome);
  // After the channel's own callbacks: writes what they sent, runs the callbacks that completes,
  // and closes a disconnecting channel whose queue is written.
  void flush_corked();
  // With mutex_ held: drops what is queued.
  void stream_locked(settled& outcome);
  void drop_queue_locked(settled& outcome);
  // Runs the callbacks and reports the dropped bytes: at once when called from a handler of the
  // channel's own, else posted, so that none runs inside the caller (a listener, or send()).
  void tell(settled& outcome, bool from_own_handler);
  void report_error_later(error problem);

  boost::asio::io_context& io_;
  boost::asio::local::stream_protocol::socket socket_;
  byte_stream stream_;
  channel_owner& owner_;
  std::weak_ptr<void> owner_lifetime_;

  // state_ changes only on the io_context's thread, with mutex_ held; any thread may read it.
  std::atomic<state> state_ = state::open;
  std::mutex mutex_;  // guards what follows, and keeps the descriptor from closing under a write
  channel_codec codec_;  // encoding under mutex_; decoding only on the io_context's thread
  write_queue queue_;
  const std::size_t max_queued_bytes_;
  bool write_scheduled_ = false;  // a flush is posted or waits for the socket to be writable
  bool write_failed_ = false;     // the peer stopped reading for good: nothing more can be sent
  // Shared memory: the ring was full, and the peer wakes this end when it has read some.
  std::atomic<bool> waiting_for_space_ = false;
  std::chrono::steady_clock::time_point spin_until_;  // the io_context's thread only
  std::atomic<std::thread::id> corked_by_{};  // the thread running this channel's callbacks
};

}  // namespace forkipc::detail
