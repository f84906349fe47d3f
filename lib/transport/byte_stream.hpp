// byte_stream: how a channel's bytes travel, through its socket or through shared memory.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "codec/receive_buffer.hpp"
#include "transport/poll.hpp"
#include "transport/received_descriptors.hpp"
#include "shm/byte_ring.hpp"
#include "unique_fd.hpp"
#include "transport/write_queue.hpp"

namespace forkipc::detail {

/// What a channel's bytes travel through: its socket and, on the shared-memory transport, the
/// rings beside it.
struct channel_link {
  unique_fd socket;
  std::optional<shm::ring_region> rings;  // two rings: the parent writes ring 0, the child ring 1
};

/// The two directions of one channel's byte stream, apart from framing and from how the event
/// loop waits: the channel (asynchronous) and the blocking channel both move their bytes here.
///
/// On the socket transport the bytes and the descriptors passed with them go through the
/// connected Unix socket. On the shared-memory transport the bytes go through a pair of rings
/// both processes map (shm::byte_ring, one per direction, in one shm::ring_region), and the
/// socket stays beside them for everything that needs
/// the kernel, never for the bytes themselves:
///   - descriptors: a record "R" with the stream position of the message that passes them,
///     sent (with SCM_RIGHTS) before the message's bytes are published, so that the consumer,
///     which looks at the socket whenever a record is due, has them before it decodes that
///     message;
///   - wake-ups: a byte "W" to a consumer that went to sleep waiting for bytes, or to a producer
///     that waits for space, when (and only when) it said so in the region;
///   - the end: the peer's death or close ends the socket as usual, which wakes a sleeper.
/// A consumer with nothing to read first spins on the ring for a short while (yielding the CPU,
/// so that a peer on the same CPU runs at once), then sleeps on the socket: while messages
/// come, no system call is made on either side; idle, it costs nothing.
///
/// The socket descriptor belongs to the caller.
class byte_stream {
 public:
  /// How long a consumer spins on an empty ring before it sleeps.
  static constexpr std::chrono::microseconds spin_window{100};

  /// The socket transport, or with rings the shared-memory one.
  explicit byte_stream(int socket, std::optional<shm::ring_region> rings = std::nullopt) noexcept;

  bool shared_memory() const noexcept { return rings_.has_value(); }
  int socket() const noexcept { return socket_; }

  /// What write() returns when the ring has no room: wait_for_space() says when it has.
  static constexpr int ring_full = ENOSPC;

  /// Writes what can be written without blocking: many queued messages at a time, each
  /// message's descriptors with (or, on shared memory, before) its first byte. Moves the
  /// callbacks of the messages written to completed. Returns 0 once the queue is empty, EAGAIN
  /// when the socket is full, ring_full when the ring is, or the error (EPIPE, ECONNRESET: the
  /// peer is gone). Throws forkipc::error when the peer broke the shared memory.
  int write(write_queue& queue, std::vector<write_queue::callback>& completed);

  /// One non-blocking read of up to read_size bytes into buffer; descriptors passed with them
  /// go to fds. Returns the byte count, 0 at the end of the stream, or -errno (-EAGAIN when
  /// nothing is there yet). Throws forkipc::error when the peer broke the shared memory or
  /// the socket beside it.
  long read(receive_buffer& buffer, received_descriptors& fds, std::size_t read_size);

  // ---- waiting, on the shared-memory transport ----

  /// Bytes to read: worth a read() now. No system call.
  bool has_input() const;
  /// Spins until has_input() or until; true in the first case. It gives the CPU away now and
  /// then, so that a peer waiting for the same CPU runs at once.
  bool spin_for_input(std::chrono::steady_clock::time_point until) const;
  /// Says, in the region, that this end goes to sleep; returns true if input came meanwhile
  /// (then it should not). After either, awake() once it is up again.
  bool prepare_to_sleep();
  void awake() noexcept;
  /// The ring was full: says, in the region, that this end waits for space; true when space
  /// came meanwhile (no need to wait).
  bool prepare_to_wait_for_space();
  /// The socket is readable: takes what came on it (wake-ups, records, the end) without
  /// blocking. Throws forkipc::error when the peer broke the socket's protocol: an unknown
  /// byte, or a record for a position it has not written, or behind one it sent before.
  void drain_socket();
  /// Gives fds the descriptors the records brought (read() does, before each read), and counts
  /// as closed those dropped past the bound; at_end, those whose record never came whole too.
  void hand_over(received_descriptors& fds, bool at_end);

  // ---- blocking waits, for the blocking channel and for a process that exits ----

  /// Waits until read() has something to say (bytes, or the end); false when until passed.
  bool wait_readable(const deadline& until);
  /// Waits until write() can go on after it returned EAGAIN or ring_full; false when until passed.
  bool wait_writable(int write_result, const deadline& until);
  /// Writes the whole queue, waiting (poll, or on shared memory the peer's wake-up) for the
  /// stream to take it: the blocking channel's send, and a process's last words at exit.
  /// Returns 0, ETIMEDOUT when until passed, or the error write() returned (the peer is gone);
  /// throws forkipc::error when the peer broke the shared memory or its socket.
  int write_all(write_queue& queue, std::vector<write_queue::callback>& completed, const deadline& until);

  // ---- setting up the shared-memory transport ----

  /// The rings of a new shared-memory channel, for the parent's end; fd receives the region's
  /// descriptor, for send_setup(). Throws forkipc::error naming the reason.
  static shm::ring_region create_rings(unique_fd& fd);
  /// The parent, before the child starts: passes the region's descriptor on the socket, first.
  static void send_setup(int socket, const unique_fd& region);
  /// The child, when it takes its channel: maps the region the parent passed. Throws
  /// forkipc::error when there is none, or it is not a forkipc channel's.
  static shm::ring_region receive_setup(int socket);

  /// The size of each ring of a shared-memory channel.
  static constexpr std::size_t ring_capacity = std::size_t{1} << 20;

 private:
  int write_to_ring(write_queue& queue, std::vector<write_queue::callback>& completed);
  // Throws when a record's position is not one the peer could have sent.
  void check_record(std::uint64_t position);
  void wake_peer() noexcept;

  struct record {
    std::uint64_t position;
    std::vector<unique_fd> fds;
  };

  int socket_;
  std::optional<shm::ring_region> rings_;
  shm::byte_ring out_, in_;                 // on rings_: the one this end writes, and reads
  std::uint64_t records_seen_ = 0;          // the peer's count of records (in_.note()) seen
  // Shared memory only. Writing is the channel's to serialize; what the socket brings is
  // guarded here, as a blocked writer may take it too (waiting for a wake-up).
  std::uint64_t recorded_at_ = UINT64_MAX;  // the position whose record was sent last
  std::mutex records_mutex_;
  std::deque<record> records_;              // received, not handed to read()'s fds yet
  std::string control_;                     // a record cut off at the end of a socket read
  std::vector<unique_fd> pending_fds_;      // the descriptors of that record
  std::optional<std::uint64_t> last_record_;  // the position of the last record received
  std::size_t dropped_fds_ = 0;             // closed past the bound, not reported yet
  std::atomic<bool> peer_closed_ = false;   // the socket ended
};

}  // namespace forkipc::detail
