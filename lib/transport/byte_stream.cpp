#include "transport/byte_stream.hpp"

#include <sched.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <forkipc/error.hpp>

#include "shm/spin.hpp"
#include "transport/socket_io.hpp"

namespace forkipc::detail {
namespace {

// The bytes of the socket's control protocol on the shared-memory transport.
constexpr char wake_byte = 'W';
constexpr char record_byte = 'R';   // then the position, 8 bytes little-endian; descriptors attached
constexpr char setup_byte = 'S';    // the region, from the parent, before the child starts
constexpr std::size_t record_size = 9;

using clock = std::chrono::steady_clock;

// One record or setup message, whole: 0, or errno. A record never splits on a socket with room.
int send_whole(int socket, std::string_view bytes, std::span<const int> fds) {
  const iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  const ssize_t sent = send_with_fds(socket, std::span<const iovec>(&iov, 1), fds);
  if (sent < 0) return static_cast<int>(-sent);
  return sent == static_cast<ssize_t>(bytes.size()) ? 0 : EPROTO;
}

[[noreturn]] void throw_corrupt(const std::string& what) {
  throw error(errc::malformed_message, "the peer broke the shared-memory channel's socket: " + what);
}

// Spins one step: a pause, and now and then the CPU to whoever else wants it, so that a peer on
// the same CPU runs at once.
void relax(unsigned step) noexcept {
  if (step % 4 == 0) {
    ::sched_yield();
  } else {
    shm::cpu_pause();
  }
}

}  // namespace

byte_stream::byte_stream(int socket, std::optional<shm::ring_region> rings) noexcept
    : socket_(socket), rings_(std::move(rings)) {
  if (!rings_) return;
  const bool parent_end = rings_->created_here();
  out_ = rings_->ring(parent_end ? 0 : 1, shm::wake_up::by_caller);
  in_ = rings_->ring(parent_end ? 1 : 0, shm::wake_up::by_caller);
}

// ---- writing ----

int byte_stream::write(write_queue& queue, std::vector<write_queue::callback>& completed) {
  if (!rings_) return send_queued(socket_, queue, completed);
  if (peer_closed_) return EPIPE;
  return write_to_ring(queue, completed);
}

int byte_stream::write_to_ring(write_queue& queue, std::vector<write_queue::callback>& completed) {
  std::array<iovec, 64> iov;
  bool wrote = false;
  int result = 0;
  while (!queue.empty()) {
    if (const std::vector<int> fds = queue.fds_at_front(); !fds.empty() && recorded_at_ != queue.written()) {
      // The record goes first: the consumer looks at the socket before it reads the bytes.
      char record[record_size] = {record_byte};
      const std::uint64_t position = queue.written();
      for (std::size_t i = 0; i < 8; ++i) record[1 + i] = static_cast<char>(position >> (8 * i));
      if ((result = send_whole(socket_, std::string_view(record, record_size), fds)) != 0) break;
      out_.count_note();
      recorded_at_ = position;
    }
    const std::size_t n = out_.write(std::span<const iovec>(iov.data(), queue.gather(iov)));
    if (n == 0) {
      result = ring_full;
      break;
    }
    wrote = true;
    queue.consume(n, completed);
  }
  if (wrote && out_.take_consumer_sleeping()) wake_peer();
  return result;
}

void byte_stream::wake_peer() noexcept {
  // Failing is fine: a full socket holds wake-ups already, and a closed one wakes the peer too.
  (void)::send(socket_, &wake_byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

// ---- reading ----

long byte_stream::read(receive_buffer& buffer, received_descriptors& fds, std::size_t read_size) {
  if (!rings_) return receive_some(socket_, buffer, fds, read_size);
  // What is published now, then the records: the producer counts a record before it publishes
  // the bytes that need it, so every record those bytes need is due by now.
  const std::size_t published = in_.readable();
  // Records are due when the peer counted more than were seen.
  if (const std::uint64_t sent = in_.note(); sent != records_seen_) {
    records_seen_ = sent;
    drain_socket();
  }
  hand_over(fds, false);
  const std::size_t wanted = std::min(published, read_size);
  const std::size_t n = wanted == 0 ? 0 : in_.read(buffer.prepare(wanted).first(wanted));
  buffer.commit(n);
  if (n > 0) {
    if (in_.take_producer_waiting()) wake_peer();
    return static_cast<long>(n);
  }
  if (!peer_closed_) return -EAGAIN;
  // The socket ended after the look at the ring: the peer may have published its last bytes
  // between the two, and they come before the end.
  if (in_.readable() > 0) return read(buffer, fds, read_size);
  return 0;
}

void byte_stream::hand_over(received_descriptors& fds, bool at_end) {
  if (!rings_) return;
  std::lock_guard lock(records_mutex_);
  for (record& r : records_)
    for (unique_fd& fd : r.fds) fds.add({r.position, r.position + 1}, std::move(fd));
  records_.clear();
  fds.count_closed(std::exchange(dropped_fds_, 0));
  if (at_end) fds.count_closed(std::exchange(pending_fds_, {}).size());  // their record never came whole
}

void byte_stream::drain_socket() {
  std::lock_guard lock(records_mutex_);
  char bytes[4096];
  for (;;) {
    received_fds received;
    const ssize_t got = receive_with_fds(socket_, bytes, received, max_fds_per_message);
    if (got == -EAGAIN) return;
    if (got <= 0) {  // the end, or ECONNRESET and the like
      peer_closed_ = true;
      return;
    }
    std::vector<unique_fd>& passed = received.passed;
    const std::size_t first_record = records_.size();
    // The kernel ends a read after a write that passed descriptors: they belong to the last
    // record that starts in this read (or, cut off at its end, in the next one).
    const std::size_t read_start = control_.size();
    control_.append(bytes, static_cast<std::size_t>(got));
    std::optional<std::size_t> started_here;  // the last whole record that starts in this read
    bool cut_off_here = false;                // a record starting in this read is cut off at its end
    std::size_t i = 0;
    while (i < control_.size()) {
      if (control_[i] == wake_byte) {
        ++i;
        continue;
      }
      if (control_[i] != record_byte)
        throw_corrupt("an unknown control byte " + std::to_string(static_cast<unsigned char>(control_[i])));
      if (control_.size() - i < record_size) {
        cut_off_here = i >= read_start;
        break;
      }
      std::uint64_t position = 0;
      for (std::size_t k = 0; k < 8; ++k)
        position |= std::uint64_t{static_cast<unsigned char>(control_[i + 1 + k])} << (8 * k);
      check_record(position);
      records_.push_back({position, std::exchange(pending_fds_, {})});
      if (i >= read_start) started_here = records_.size() - 1;
      i += record_size;
    }
    control_.erase(0, i);
    if (!passed.empty()) {
      // The kernel ends a read after a write that passed descriptors: they belong to the last
      // record that starts in this read, whole or cut off at its end. Without one, they are
      // strays, given a position before any message, so that the next one closes and reports
      // them.
      if (cut_off_here) {
        pending_fds_ = std::move(passed);
      } else if (started_here) {
        for (unique_fd& fd : passed) records_[*started_here].fds.push_back(std::move(fd));
      } else {
        records_.push_back({0, std::move(passed)});
      }
    }
    // Bounded, whatever the peer sends: a record without descriptors holds nothing, and past
    // max_held records (as many descriptors as a channel holds for its messages) the newest
    // records' descriptors are closed at once, and reported as unclaimed.
    records_.erase(std::remove_if(records_.begin() + static_cast<std::ptrdiff_t>(first_record), records_.end(),
                                  [](const record& r) { return r.fds.empty(); }),
                   records_.end());
    while (records_.size() > received_descriptors::max_held) {
      dropped_fds_ += records_.back().fds.size();
      records_.pop_back();
    }
  }
}

void byte_stream::check_record(std::uint64_t position) {
  // A record goes before the bytes it is for, once all before them are published: its position
  // is at most what the peer published, at least what this end read, and after the last one.
  const std::uint64_t read = in_.read_position();
  const std::uint64_t written = read + in_.readable();
  if (position > written)
    throw_corrupt("it sent a position record for byte " + std::to_string(position) + " of the stream, beyond the " +
                  std::to_string(written) + " bytes it has written");
  if (position < read || (last_record_ && position <= *last_record_))
    throw_corrupt("it sent a position record for byte " + std::to_string(position) +
                  " of the stream, behind the bytes read or its last record");
  last_record_ = position;
}

// ---- waiting ----

bool byte_stream::has_input() const { return in_.readable() > 0; }

bool byte_stream::spin_for_input(clock::time_point until) const {
  for (unsigned step = 1;; ++step) {
    if (has_input()) return true;
    if (step % 16 == 0 && clock::now() >= until) return false;
    relax(step);
  }
}

bool byte_stream::prepare_to_sleep() { return in_.prepare_to_sleep() || peer_closed_; }

void byte_stream::awake() noexcept { in_.awake(); }

bool byte_stream::prepare_to_wait_for_space() { return out_.prepare_to_wait_for_space() || peer_closed_; }

bool byte_stream::wait_readable(const deadline& until) {
  if (!rings_) return detail::wait_readable(socket_, until);
  if (peer_closed_ || spin_for_input(clock::now() + spin_window)) return true;
  for (;;) {
    if (prepare_to_sleep()) {
      awake();
      return true;
    }
    const bool woken = detail::wait_readable(socket_, until);
    awake();
    if (!woken) return false;
    drain_socket();
    if (peer_closed_ || has_input()) return true;
  }
}

bool byte_stream::wait_writable(int write_result, const deadline& until) {
  if (!rings_ || write_result != ring_full) return detail::wait_writable(socket_, until);
  for (;;) {
    if (prepare_to_wait_for_space()) return true;
    if (!detail::wait_readable(socket_, until)) return false;
    drain_socket();
  }
}

int byte_stream::write_all(write_queue& queue, std::vector<write_queue::callback>& completed, const deadline& until) {
  for (;;) {
    const int result = write(queue, completed);
    if (result == 0) return 0;
    if (result != EAGAIN && result != ring_full) return result;
    if (!wait_writable(result, until)) return ETIMEDOUT;
  }
}

// ---- setting up ----

shm::ring_region byte_stream::create_rings(unique_fd& fd) {
  return shm::ring_region::create("forkipc-channel", 2, ring_capacity, fd);
}

void byte_stream::send_setup(int socket, const unique_fd& region) {
  const int fd = region.get();
  if (const int failed = send_whole(socket, std::string_view(&setup_byte, 1), std::span<const int>(&fd, 1)))
    throw error(std::error_code(failed, std::system_category()), "cannot pass the shared memory of a channel to the child");
}

shm::ring_region byte_stream::receive_setup(int socket) {
  // The parent sent it before starting this process: it is there, unless something else
  // started this process with a channel of its own.
  if (!detail::wait_readable(socket, deadline(std::chrono::milliseconds(5000))))
    throw error(errc::malformed_message, "the parent asked for the shared-memory transport but did not pass its memory");
  char byte = 0;
  received_fds received;
  const ssize_t got = receive_with_fds(socket, std::span<char>(&byte, 1), received, 1);
  unique_fd region = received.passed.empty() ? unique_fd() : std::move(received.passed.front());
  if (got != 1 || byte != setup_byte || !region)
    throw error(errc::malformed_message, "the parent asked for the shared-memory transport but sent something else than its memory first");
  std::string why;
  auto rings = shm::ring_region::open(region, 2, why);
  if (!rings) throw error(errc::malformed_message, "the parent passed a shared-memory channel that cannot be used: " + why);
  return std::move(*rings);
}

}  // namespace forkipc::detail
