#include "transport/shm_ring.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>

#include <forkipc/error.hpp>

#include "size_text.hpp"
#include "shm/mapping.hpp"
#include "shm/memfd.hpp"

namespace forkipc::detail {
namespace {

// The header: forkipc's mark, then each ring's producer and consumer lines, 64 bytes apart.
constexpr std::uint64_t magic = 0x4d48535f43504946;  // "FIPC_SHM", little-endian
constexpr std::uint32_t version = 1;
constexpr std::size_t magic_offset = 0, version_offset = 8, capacity_offset = 16;
constexpr std::size_t ring_lines[2] = {64, 192};  // producer line; the consumer line is 64 after
constexpr std::size_t largest_capacity = std::size_t{1} << 30;

template <class T>
T* at(void* base, std::size_t offset) noexcept {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

template <class T>
T load(const T* word, std::memory_order order) noexcept {
  return std::atomic_ref<T>(*const_cast<T*>(word)).load(order);
}

template <class T>
void store(T* word, T value, std::memory_order order) noexcept {
  std::atomic_ref<T>(*word).store(value, order);
}

[[noreturn]] void throw_corrupt(const std::string& what) {
  throw error(errc::malformed_message, "the peer broke the shared-memory channel: " + what);
}

// Takes a flag the other end raised (it sleeps, or waits for space): true once, for the end that
// must then wake it. After a position's seq_cst store, so that the look at the flag is ordered
// after it; the plain load first keeps the common case (nobody waits) free of a locked exchange.
bool take_flag(std::uint32_t* flag) noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (load(flag, std::memory_order_seq_cst) == 0) return false;
  return std::atomic_ref<std::uint32_t>(*flag).exchange(0, std::memory_order_seq_cst) != 0;
}

}  // namespace

shm_rings::shm_rings(boost::interprocess::mapped_region region, std::size_t capacity, bool parent_end)
    : region_(std::move(region)), capacity_(capacity) {
  void* base = region_.get_address();
  const auto view = [&](int ring) {
    const std::size_t line = ring_lines[ring];
    return ring_view{at<std::uint64_t>(base, line), at<std::uint32_t>(base, line + 8),
                     at<std::uint64_t>(base, line + 16), at<std::uint64_t>(base, line + 64),
                     at<std::uint32_t>(base, line + 72),
                     at<char>(base, header_size + static_cast<std::size_t>(ring) * capacity)};
  };
  out_ = view(parent_end ? 0 : 1);
  in_ = view(parent_end ? 1 : 0);
}

shm_rings shm_rings::create(std::size_t capacity, unique_fd& fd) {
  if (!std::has_single_bit(capacity) || capacity < header_size || capacity > largest_capacity)
    throw std::invalid_argument("a shared-memory ring's capacity must be a power of two from 4 KiB to 1 GiB");
  const std::size_t size = header_size + 2 * capacity;
  std::error_code ec;
  unique_fd created = shm::create_memfd("forkipc-channel", size, shm::sealing::size, ec);
  if (ec) throw error(ec, "cannot create the shared memory of a channel (" + size_text(size) + ")");
  auto region = shm::map_shared(created.get(), size, shm::populate::yes, ec);
  if (ec) throw error(ec, "cannot map the shared memory of a channel (" + size_text(size) + ")");
  void* base = region.get_address();
  *at<std::uint64_t>(base, magic_offset) = magic;
  *at<std::uint32_t>(base, version_offset) = version;
  *at<std::uint64_t>(base, capacity_offset) = capacity;
  fd = std::move(created);
  return shm_rings(std::move(region), capacity, true);
}

shm_rings shm_rings::open(const unique_fd& fd) {
  std::string why;
  const auto size = shm::sealed_size(fd.get(), why);
  const auto refuse = [](const std::string& reason) -> shm_rings {
    throw error(errc::malformed_message, "the parent passed a shared-memory channel that " + reason);
  };
  if (!size) return refuse("cannot be used: " + why);
  if (*size < header_size) return refuse("is too small (" + size_text(*size) + ")");
  std::error_code ec;
  auto region = shm::map_shared(fd.get(), *size, shm::populate::yes, ec);
  if (ec) throw error(ec, "cannot map the shared memory of the channel to the parent");
  void* base = region.get_address();
  const std::uint64_t capacity = *at<std::uint64_t>(base, capacity_offset);
  if (*at<std::uint64_t>(base, magic_offset) != magic || *at<std::uint32_t>(base, version_offset) != version)
    return refuse("is not one of forkipc's (version " + std::to_string(version) + ")");
  if (!std::has_single_bit(capacity) || capacity < header_size || capacity > largest_capacity ||
      *size != header_size + 2 * capacity)
    return refuse("says its rings hold " + size_text(capacity) + " in a file of " + size_text(*size));
  return shm_rings(std::move(region), static_cast<std::size_t>(capacity), false);
}

// ---- producing ----

std::size_t shm_rings::write(std::span<const iovec> bytes) {
  std::size_t free = capacity_ - static_cast<std::size_t>(write_position_ - peer_read_position_);
  std::size_t wanted = 0;
  for (const iovec& piece : bytes) wanted += piece.iov_len;
  if (free < wanted) {
    const std::uint64_t read = load(out_.read_position, std::memory_order_acquire);
    if (read > write_position_ || write_position_ - read > capacity_)
      throw_corrupt("its read position (" + std::to_string(read) + ") is not within the ring");
    peer_read_position_ = read;
    free = capacity_ - static_cast<std::size_t>(write_position_ - read);
  }
  const std::size_t mask = capacity_ - 1;
  std::size_t copied = 0;
  for (const iovec& piece : bytes) {
    const std::size_t n = std::min(piece.iov_len, free - copied);
    const std::size_t offset = static_cast<std::size_t>(write_position_ + copied) & mask;
    const std::size_t first = std::min(n, capacity_ - offset);
    std::memcpy(out_.data + offset, piece.iov_base, first);
    std::memcpy(out_.data, static_cast<const char*>(piece.iov_base) + first, n - first);
    copied += n;
    if (n < piece.iov_len) break;
  }
  if (copied == 0) return 0;
  write_position_ += copied;
  // seq_cst: ordered before take_consumer_sleeping()'s look at the consumer's flag, as that
  // flag's store is before the consumer's last look at this position (see prepare_to_sleep).
  store(out_.write_position, write_position_, std::memory_order_seq_cst);
  return copied;
}

bool shm_rings::take_consumer_sleeping() noexcept { return take_flag(out_.consumer_sleeping); }

bool shm_rings::wait_for_space() {
  store(out_.producer_waiting, std::uint32_t{1}, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const std::uint64_t read = load(out_.read_position, std::memory_order_seq_cst);
  if (read > write_position_ || write_position_ - read > capacity_)
    throw_corrupt("its read position (" + std::to_string(read) + ") is not within the ring");
  if (read == peer_read_position_) return false;
  peer_read_position_ = read;
  return true;
}

void shm_rings::count_record_sent() noexcept {
  // Before the bytes it is for are published, which orders it for the consumer.
  std::atomic_ref<std::uint64_t>(*out_.records_sent).fetch_add(1, std::memory_order_release);
}

// ---- consuming ----

std::size_t shm_rings::readable() const {
  const std::uint64_t written = load(in_.write_position, std::memory_order_acquire);
  if (written < read_position_ || written - read_position_ > capacity_)
    throw_corrupt("its write position (" + std::to_string(written) + ") is not within the ring");
  return static_cast<std::size_t>(written - read_position_);
}

std::size_t shm_rings::read(std::span<char> out) {
  const std::size_t n = std::min(out.size(), readable());
  if (n == 0) return 0;
  const std::size_t offset = static_cast<std::size_t>(read_position_) & (capacity_ - 1);
  const std::size_t first = std::min(n, capacity_ - offset);
  std::memcpy(out.data(), in_.data + offset, first);
  std::memcpy(out.data() + first, in_.data, n - first);
  read_position_ += n;
  // seq_cst: ordered before take_producer_waiting()'s look at the producer's flag.
  store(in_.read_position, read_position_, std::memory_order_seq_cst);
  return n;
}

bool shm_rings::take_producer_waiting() noexcept { return take_flag(in_.producer_waiting); }

bool shm_rings::prepare_to_sleep() {
  store(in_.consumer_sleeping, std::uint32_t{1}, std::memory_order_seq_cst);
  // The store, then the look at the write position: the producer does the converse (publishes,
  // then looks at the flag), so one of the two sees the other.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return readable() > 0;
}

void shm_rings::awake() noexcept { store(in_.consumer_sleeping, std::uint32_t{0}, std::memory_order_relaxed); }

bool shm_rings::take_records_due() noexcept {
  const std::uint64_t sent = load(in_.records_sent, std::memory_order_acquire);
  if (sent == records_seen_) return false;
  records_seen_ = sent;
  return true;
}

}  // namespace forkipc::detail
