#include "channel/large_values.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <new>
#include <system_error>
#include <utility>

#include <forkipc/error.hpp>

#include "shm/platform.hpp"
#include "shm/spin.hpp"
#include "size_text.hpp"

namespace forkipc::detail {
namespace {

using clock_type = std::chrono::steady_clock;

// How a reference says where its value is.
enum class placement : std::uint8_t {
  in_ring = 0,   // whole in the ring already
  streamed = 1,  // arriving in the ring; an overflow file came with it
  own_file = 2,  // whole in a file that came with it
};

constexpr std::size_t reference_size = 1 + 4 + 8 + 8;  // placement, ring, start, size
constexpr std::uintptr_t huge_page_size = std::uintptr_t{2} << 20;
constexpr std::uint64_t never = value_ring::not_abandoned;

[[noreturn]] void throw_errno(int code, const std::string& what) {
  throw error(std::error_code(code, std::system_category()), what);
}

template <class T>
void put(std::string& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    out.push_back(static_cast<char>(value >> (8 * (sizeof(T) - 1 - i))));
}

template <class T>
T get(std::string_view& in) {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    value = static_cast<T>((value << 8) | static_cast<unsigned char>(in[i]));
  in.remove_prefix(sizeof(T));
  return value;
}

// The end of a ring the other process moves: the producer (the receiver waits for its bytes) or
// the consumer (the sender waits for room).
enum class mover { producer, consumer };

// Waits for the peer process to move a position of ring: spins first, as a peer on another CPU
// is usually about to, then sleeps on the mover's doorbell, which it rings with each move, so
// that a waiter costs no CPU and wakes at once. true once ready() holds; false once give_up()
// does (asked at least every millisecond) and ready() still does not: a peer may finish, then
// hang up, between the two.
template <class Ready, class GiveUp>
bool wait_for_peer(shm::byte_ring& ring, mover who, Ready ready, GiveUp give_up) {
  for (int spin = 0; spin < 2000; ++spin) {
    if (ready()) return true;
    shm::cpu_pause();
  }
  for (;;) {
    const std::uint32_t seen = who == mover::producer ? ring.producer_bell() : ring.consumer_bell();
    if (ready()) return true;
    if (give_up()) return ready();
    if (who == mover::producer) {
      ring.sleep_for_producer(seen, std::chrono::milliseconds(1));
    } else {
      ring.sleep_for_consumer(seen, std::chrono::milliseconds(1));
    }
  }
}

// An unnamed file for one value: the overflow of a streamed value, or a value of its own. Read
// and written with pread/pwrite, never mapped: a peer that truncates it makes a read come up
// short, not a SIGBUS. Until written, it holds no memory.
unique_fd create_value_file(std::size_t size) {
  std::error_code failed;
  unique_fd file = shm::create_shared_file("forkipc-value", size, shm::sealing::none, failed);
  if (failed) throw error(failed, "cannot create a shared-memory file of " + size_text(size) + " for a large binary value");
  return file;
}

void write_value_file(const unique_fd& file, std::size_t offset, std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(file.get(), bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_errno(n < 0 ? errno : ENOSPC, "cannot write a large binary value to shared memory");
    bytes = bytes.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::size_t>(n);
  }
}

// Appends n bytes of file from offset to out.
std::optional<std::string> read_value_file(const unique_fd& file, std::size_t offset, std::size_t n,
                                           std::vector<std::uint8_t>& out) {
  const std::size_t at = out.size();
  out.resize(at + n);
  for (std::size_t done = 0; done < n;) {
    const ssize_t got = ::pread(file.get(), out.data() + at + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return std::string("cannot read a large binary value from shared memory: ") + std::strerror(errno);
    if (got == 0) return "the shared-memory file of a binary value ended " + size_text(n - done) + " short";
    done += static_cast<std::size_t>(got);
  }
  return std::nullopt;
}

}  // namespace

// ---- value_ring ----

namespace {

value_ring create_value_ring(std::size_t capacity, unique_fd& fd) {
  shm::ring_region region = shm::ring_region::create("forkipc-ring", 1, capacity, fd);
  value_ring created{std::move(region), {}};
  created.ring = created.region.ring(0, shm::wake_up::doorbell);
  created.ring.set_note(value_ring::not_abandoned);
  return created;
}

std::optional<value_ring> open_value_ring(const unique_fd& fd, std::string& why) {
  auto region = shm::ring_region::open(fd, 1, why);
  if (!region) {
    why = "the peer passed a shared-memory ring, but " + why;
    return std::nullopt;
  }
  value_ring opened{std::move(*region), {}};
  opened.ring = opened.region.ring(0, shm::wake_up::doorbell);
  return opened;
}

}  // namespace

// ---- shm_outbox ----

void shm_outbox::begin() noexcept {
  jobs_.clear();  // a send that failed half-way may have left some
  saved_head_ = head_;
  saved_ring_id_ = ring_id_;
}

std::vector<unique_fd> shm_outbox::commit() {
  // The receiver may read the ring up to the first value still to stream: all before it is
  // there, or elsewhere (in a file, or abandoned).
  if (ring_) ring_->ring.publish(jobs_.empty() ? head_ : jobs_.front().start);
  return std::exchange(new_fds_, {});
}

void shm_outbox::rollback() noexcept {
  if (ring_id_ != saved_ring_id_) {  // created for this message: the peer never got it
    ring_.reset();
    ring_id_ = saved_ring_id_;
  }
  head_ = saved_head_;
  jobs_.clear();
  new_fds_.clear();
}

void shm_outbox::discard_stream() noexcept { jobs_.clear(); }

std::size_t shm_outbox::in_flight() const noexcept {
  if (!ring_) return 0;
  return static_cast<std::size_t>(head_ - std::min(ring_->ring.released(), head_));
}

std::size_t shm_outbox::free_space(std::uint64_t position) const noexcept {
  // The ring holds positions [released, released + capacity).
  const std::uint64_t end = ring_->ring.released() + ring_->ring.capacity();
  return end > position ? static_cast<std::size_t>(end - position) : 0;
}

bool shm_outbox::spill(std::span<const std::uint8_t> bytes, std::string& out) {
  const std::size_t n = bytes.size();
  placement where;
  if (ring_ && ring_->ring.released() < backlog_until_) {
    // The receiver has not read past a message it could not keep up with: no streaming until
    // it has. A small value goes inline, where the socket's backpressure holds the sender; a
    // large one (which the peer's max_message_size might refuse inline) in a file of its own.
    if (n <= inline_limit) return false;
    unique_fd file = create_value_file(n);
    write_value_file(file, 0, bytes);
    new_fds_.push_back(std::move(file));
    where = placement::own_file;
  } else {
    if (!ring_) {
      unique_fd fd;
      ring_ = create_value_ring(ring_capacity, fd);
      new_fds_.push_back(std::move(fd));
      ++ring_id_;
    }
    if (jobs_.empty() && n <= free_space(head_)) {
      ring_->ring.copy_in(head_, bytes);
      where = placement::in_ring;
    } else {
      // Values after a streamed one stream too: the ring fills in order.
      unique_fd overflow = create_value_file(n);
      unique_fd peers_copy(::fcntl(overflow.get(), F_DUPFD_CLOEXEC, 0));
      if (!peers_copy) throw_errno(errno, "cannot pass a shared-memory file");
      new_fds_.push_back(std::move(peers_copy));
      jobs_.push_back({bytes, head_, std::move(overflow)});
      where = placement::streamed;
    }
  }
  out.push_back(static_cast<char>(where));
  put<std::uint32_t>(out, ring_id_);
  put<std::uint64_t>(out, head_);
  put<std::uint64_t>(out, n);
  head_ += n;
  return true;
}

void shm_outbox::stream(bool sent) {
  struct clear_jobs {
    std::vector<job>& jobs;
    ~clear_jobs() { jobs.clear(); }
  } done{jobs_};
  for (std::size_t i = 0; i < jobs_.size(); ++i) {
    const job& value = jobs_[i];
    const std::uint64_t end = value.start + value.bytes.size();
    std::uint64_t position = value.start;
    if (!sent) return abandon(i, position);
    std::uint64_t seen = ring_->ring.released();
    auto last_progress = clock_type::now();
    while (position < end) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size, end - position));
      const bool room = wait_for_peer(ring_->ring, mover::consumer, [&] { return free_space(position) >= want; },
                                      [&] {
                                        if (const auto now_seen = ring_->ring.released(); now_seen != seen) {
                                          seen = now_seen;
                                          last_progress = clock_type::now();
                                        }
                                        return clock_type::now() - last_progress > patience;
                                      });
      if (!room) return abandon(i, position);
      const auto from = static_cast<std::size_t>(position - value.start);
      ring_->ring.copy_in(position, value.bytes.subspan(from, want));
      position += want;
      ring_->ring.publish(position);
    }
  }
}

void shm_outbox::abandon(std::size_t first, std::uint64_t position) {
  // The rest of this value, and the values after it, go to their overflow files; the mark in
  // the ring tells the receiver, and is set last, once the files hold the bytes.
  for (std::size_t i = first; i < jobs_.size(); ++i) {
    const job& value = jobs_[i];
    const auto from = static_cast<std::size_t>(i == first ? position - value.start : 0);
    write_value_file(value.overflow, from, value.bytes.subspan(from));
  }
  ring_->ring.set_note(position);
  backlog_until_ = head_;
}

// ---- shm_inbox ----

void shm_inbox::begin_message(stream_span message) noexcept {
  message_ = message;
  fetched_bytes_ = 0;
  fetched_values_ = 0;
  abandoned_ = false;
  refused_.reset();
}

std::optional<std::string> shm_inbox::fetch(std::string_view reference, json::binary_t& out) {
  if (reference.size() != reference_size)
    return "a shared-memory reference of " + std::to_string(reference.size()) + " bytes";
  const auto where = static_cast<placement>(get<std::uint8_t>(reference));
  const auto id = get<std::uint32_t>(reference);
  const auto start = get<std::uint64_t>(reference);
  const auto size = get<std::uint64_t>(reference);
  if (where != placement::in_ring && where != placement::streamed && where != placement::own_file)
    return "a shared-memory reference of unknown kind " + std::to_string(static_cast<int>(where));
  if (size > std::numeric_limits<std::uint64_t>::max() - start)
    return std::string("a shared-memory reference past the last position");
  // The descriptors came with the message's first byte, in the order the sender made them: the
  // ring (the first time), then this value's file.
  const bool uses_ring = where != placement::own_file;
  if (uses_ring && id == ring_id_ + 1) {
    const unique_fd fd = received_fds_.take(message_);
    if (!fd) return std::string("a reference to a new shared-memory ring that came without it");
    std::string why;
    auto adopted = open_value_ring(fd, why);
    if (!adopted) return why;
    ring_ = std::move(adopted);
    ring_id_ = id;
  } else if (uses_ring && (id != ring_id_ || !ring_)) {
    return "a reference to shared-memory ring " + std::to_string(id) + ", which the peer never passed";
  }
  unique_fd file;
  if (where != placement::in_ring) {
    file = received_fds_.take(message_);
    if (!file) return std::string("a shared-memory value that came without its file");
  }
  // Whole in the ring means written before the message was sent: never wait for it.
  if (where == placement::in_ring && start + size > ring_->ring.published())
    return "a shared-memory reference beyond what the peer has written to its ring";
  if (ring_ && id == ring_id_) ring_->ring.release_to(start);  // what came before is not needed any more

  if (refused_ || size > max_message_size_ - fetched_bytes_) {
    // Skipped, not read, so that the next values and messages still find theirs.
    if (!refused_)
      refused_ = "its shared-memory values total more than the limit of " + size_text(max_message_size_) +
                 " in one message";
    if (ring_ && id == ring_id_) ring_->ring.release_to(start + size);
    return std::nullopt;
  }
  fetched_bytes_ += size;
  ++fetched_values_;

  std::vector<std::uint8_t> bytes = spares_.take(size);
  bytes.clear();
  if (bytes.capacity() < size) {
    bytes.reserve(size);
    // A fresh large vector's pages fault in one 4 KiB page at a time as the copy touches them
    // (for 64 MiB, 16k faults). Huge pages, where the kernel offers them on request, make that
    // 32 faults.
    if (size >= huge_page_size) {
      const auto at = reinterpret_cast<std::uintptr_t>(bytes.data());
      const auto first = (at + huge_page_size - 1) & ~(huge_page_size - 1);
      const auto last = (at + size) & ~(huge_page_size - 1);
      if (last > first) shm::advise_huge_pages(reinterpret_cast<void*>(first), last - first);
    }
  }
  std::optional<std::string> failed;
  if (where == placement::own_file) {
    failed = read_value_file(file, 0, static_cast<std::size_t>(size), bytes);
    if (ring_ && id == ring_id_) ring_->ring.release_to(start + size);
  } else {
    failed = read_streamed(start, static_cast<std::size_t>(size), file ? &file : nullptr, bytes);
  }
  if (failed) return failed;
  static_cast<std::vector<std::uint8_t>&>(out) = std::move(bytes);
  return std::nullopt;
}

std::optional<std::string> shm_inbox::read_streamed(std::uint64_t start, std::size_t size,
                                                    const unique_fd* overflow,
                                                    std::vector<std::uint8_t>& bytes) {
  const std::uint64_t end = start + size;
  const auto from_overflow = [&](std::uint64_t position) -> std::optional<std::string> {
    if (overflow == nullptr) return std::string("the peer abandoned a shared-memory value it had no overflow file for");
    abandoned_ = true;  // and so are the message's next values
    auto failed = read_value_file(*overflow, static_cast<std::size_t>(position - start),
                                  static_cast<std::size_t>(end - position), bytes);
    ring_->ring.release_to(end);
    return failed;
  };
  if (abandoned_) return from_overflow(start);
  std::uint64_t position = start;
  while (position < end) {
    std::uint64_t written = 0, abandoned = never;
    // written first: a sender that wrote past this value has marked where it abandoned it.
    const bool moved = wait_for_peer(
        ring_->ring, mover::producer,
        [&] {
          written = ring_->ring.published();
          abandoned = ring_->ring.note();
          return written > position || (abandoned >= start && abandoned < end);
        },
        [&] { return peer_gone(); });
    if (!moved) return "the peer hung up in the middle of a shared-memory value of " + size_text(size);
    const bool cut = abandoned >= start && abandoned < end;
    if (cut && abandoned < position) return std::string("the peer abandoned a shared-memory value behind what it had written");
    const std::uint64_t limit = cut ? abandoned : std::min(written, end);
    while (position < limit) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(shm_outbox::chunk_size, limit - position));
      ring_->ring.copy_out(position, n, bytes);
      position += n;
      ring_->ring.release_to(position);
    }
    if (cut) return from_overflow(position);
  }
  return std::nullopt;
}

bool shm_inbox::peer_gone() const noexcept {
  if (socket_ < 0) return false;
  pollfd watched{socket_, POLLRDHUP, 0};
  return ::poll(&watched, 1, 0) > 0 && (watched.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void shm_inbox::recycle(json& message) noexcept {
  // Only a message with fetched values has anything to give back.
  spares_.take_back(message, std::exchange(fetched_values_, 0));
}

}  // namespace forkipc::detail
