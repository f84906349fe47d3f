#include "shm/byte_ring.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <climits>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include <forkipc/error.hpp>

#include "shm/mapping.hpp"
#include "shm/platform.hpp"
#include "size_text.hpp"

namespace forkipc::detail::shm {
namespace {

// The header page: forkipc's mark, then each ring's two lines, 128 bytes apart from 64 on.
constexpr std::uint64_t magic = 0x4d48535f43504946;  // "FIPC_SHM", little-endian
constexpr std::uint32_t version = 2;
constexpr std::size_t magic_offset = 0, version_offset = 8, count_offset = 12, capacity_offset = 16;
constexpr std::size_t first_lines = 64;
constexpr std::size_t most_rings = (ring_region::header_size - first_lines) / byte_ring::lines_size;
constexpr std::size_t smallest_capacity = 4096, largest_capacity = std::size_t{1} << 30;
// A line's words: the position, then the doorbell and the flag, then the note.
constexpr std::size_t position_offset = 0, bell_offset = 8, flag_offset = 12, note_offset = 16;

template <class T>
T* at(char* base, std::size_t offset) noexcept {
  return reinterpret_cast<T*>(base + offset);
}

// Atomic access to the words both processes map: what std::atomic_ref does, made of the same
// compiler builtins (g++ and clang++ both have them), as libc++ before 19 has no atomic_ref.
constexpr int builtin_order(std::memory_order order) noexcept {
  switch (order) {
    case std::memory_order_relaxed: return __ATOMIC_RELAXED;
    case std::memory_order_consume:
    case std::memory_order_acquire: return __ATOMIC_ACQUIRE;
    case std::memory_order_release: return __ATOMIC_RELEASE;
    case std::memory_order_acq_rel: return __ATOMIC_ACQ_REL;
    default: return __ATOMIC_SEQ_CST;
  }
}

template <class T>
T load(const T* word, std::memory_order order) noexcept {
  return __atomic_load_n(word, builtin_order(order));
}

template <class T>
void store(T* word, T value, std::memory_order order) noexcept {
  __atomic_store_n(word, value, builtin_order(order));
}

template <class T>
T exchange(T* word, T value, std::memory_order order) noexcept {
  return __atomic_exchange_n(word, value, builtin_order(order));
}

template <class T>
T fetch_add(T* word, T value, std::memory_order order) noexcept {
  return __atomic_fetch_add(word, value, builtin_order(order));
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
  return exchange(flag, std::uint32_t{0}, std::memory_order_seq_cst) != 0;
}

// Sleeps on a bell the other end rings: says so in flag first, so that it wakes the sleeper.
void sleep_on(std::uint32_t* bell, std::uint32_t* flag, std::uint32_t seen, std::chrono::microseconds max) noexcept {
  store(flag, std::uint32_t{1}, std::memory_order_seq_cst);
  doorbell_wait(bell, seen, max);
  store(flag, std::uint32_t{0}, std::memory_order_relaxed);
}

}  // namespace

// ---- byte_ring ----

byte_ring::byte_ring(char* header, char* data, std::size_t capacity, wake_up how) noexcept
    : data_(data), capacity_(capacity), wake_up_(how) {
  const auto line_at = [](char* base) {
    return line{at<std::uint64_t>(base, position_offset), at<std::uint32_t>(base, bell_offset),
                at<std::uint32_t>(base, flag_offset), at<std::uint64_t>(base, note_offset)};
  };
  producer_ = line_at(header);
  consumer_ = line_at(header + 64);
}

void byte_ring::ring(const line& moved, std::uint32_t* waiter_flag) noexcept {
  if (wake_up_ != wake_up::doorbell) return;
  // The move, then the bell, then the look at the flag; a sleeper does the converse (raises
  // its flag, then the kernel compares the bell with what it read before it looked).
  fetch_add(moved.bell, std::uint32_t{1}, std::memory_order_seq_cst);
  if (take_flag(waiter_flag)) doorbell_wake(moved.bell);
}

std::size_t byte_ring::write(std::span<const iovec> bytes) {
  std::size_t free = capacity_ - static_cast<std::size_t>(write_position_ - peer_read_position_);
  std::size_t wanted = 0;
  for (const iovec& piece : bytes) wanted += piece.iov_len;
  if (free < wanted) {
    const std::uint64_t read = released();
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
    std::memcpy(data_ + offset, piece.iov_base, first);
    std::memcpy(data_, static_cast<const char*>(piece.iov_base) + first, n - first);
    copied += n;
    if (n < piece.iov_len) break;
  }
  if (copied == 0) return 0;
  write_position_ += copied;
  // seq_cst: ordered before take_consumer_sleeping()'s look at the consumer's flag, as that
  // flag's store is before the consumer's last look at this position (see prepare_to_sleep).
  publish(write_position_);
  return copied;
}

bool byte_ring::prepare_to_wait_for_space() {
  store(producer_.waiting, std::uint32_t{1}, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const std::uint64_t read = load(consumer_.position, std::memory_order_seq_cst);
  if (read > write_position_ || write_position_ - read > capacity_)
    throw_corrupt("its read position (" + std::to_string(read) + ") is not within the ring");
  if (read == peer_read_position_) return false;
  peer_read_position_ = read;
  return true;
}

std::size_t byte_ring::readable() const {
  const std::uint64_t written = published();
  if (written < read_position_ || written - read_position_ > capacity_)
    throw_corrupt("its write position (" + std::to_string(written) + ") is not within the ring");
  return static_cast<std::size_t>(written - read_position_);
}

std::size_t byte_ring::read(std::span<char> out) {
  const std::size_t n = std::min(out.size(), readable());
  if (n == 0) return 0;
  const std::size_t offset = static_cast<std::size_t>(read_position_) & (capacity_ - 1);
  const std::size_t first = std::min(n, capacity_ - offset);
  std::memcpy(out.data(), data_ + offset, first);
  std::memcpy(out.data() + first, data_, n - first);
  read_position_ += n;
  // seq_cst: ordered before take_producer_waiting()'s look at the producer's flag.
  store(consumer_.position, read_position_, std::memory_order_seq_cst);
  ring(consumer_, producer_.waiting);
  return n;
}

bool byte_ring::prepare_to_sleep() {
  store(consumer_.waiting, std::uint32_t{1}, std::memory_order_seq_cst);
  // The store, then the look at the write position: the producer does the converse (publishes,
  // then looks at the flag), so one of the two sees the other.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return readable() > 0;
}

void byte_ring::awake() noexcept { store(consumer_.waiting, std::uint32_t{0}, std::memory_order_relaxed); }

void byte_ring::copy_in(std::uint64_t position, std::span<const std::uint8_t> bytes) noexcept {
  const auto offset = static_cast<std::size_t>(position) & (capacity_ - 1);
  const std::size_t first = std::min(bytes.size(), capacity_ - offset);
  std::memcpy(data_ + offset, bytes.data(), first);
  std::memcpy(data_, bytes.data() + first, bytes.size() - first);
}

void byte_ring::copy_out(std::uint64_t position, std::size_t n, std::vector<std::uint8_t>& out) const {
  const auto* data = reinterpret_cast<const std::uint8_t*>(data_);
  const auto offset = static_cast<std::size_t>(position) & (capacity_ - 1);
  const std::size_t first = std::min(n, capacity_ - offset);
  out.insert(out.end(), data + offset, data + offset + first);
  out.insert(out.end(), data, data + (n - first));
}

void byte_ring::publish(std::uint64_t position) noexcept {
  store(producer_.position, position, std::memory_order_seq_cst);
  ring(producer_, consumer_.waiting);
}

std::uint64_t byte_ring::published() const noexcept { return load(producer_.position, std::memory_order_acquire); }

void byte_ring::release_to(std::uint64_t position) noexcept {
  if (position <= released()) return;
  store(consumer_.position, position, std::memory_order_seq_cst);
  ring(consumer_, producer_.waiting);
}

std::uint64_t byte_ring::released() const noexcept { return load(consumer_.position, std::memory_order_acquire); }

std::uint64_t byte_ring::note() const noexcept { return load(producer_.note, std::memory_order_acquire); }

void byte_ring::set_note(std::uint64_t value) noexcept {
  store(producer_.note, value, std::memory_order_seq_cst);
  ring(producer_, consumer_.waiting);
}

void byte_ring::count_note() noexcept {
  // Before the bytes it is for are published, which orders it for the consumer.
  fetch_add(producer_.note, std::uint64_t{1}, std::memory_order_release);
}

bool byte_ring::take_consumer_sleeping() noexcept { return take_flag(consumer_.waiting); }

bool byte_ring::take_producer_waiting() noexcept { return take_flag(producer_.waiting); }

std::uint32_t byte_ring::producer_bell() const noexcept { return load(producer_.bell, std::memory_order_seq_cst); }

std::uint32_t byte_ring::consumer_bell() const noexcept { return load(consumer_.bell, std::memory_order_seq_cst); }

void byte_ring::sleep_for_producer(std::uint32_t seen, std::chrono::microseconds max) noexcept {
  sleep_on(producer_.bell, consumer_.waiting, seen, max);
}

void byte_ring::sleep_for_consumer(std::uint32_t seen, std::chrono::microseconds max) noexcept {
  sleep_on(consumer_.bell, producer_.waiting, seen, max);
}

// ---- ring_region ----

ring_region ring_region::create(const char* name, std::size_t count, std::size_t capacity, unique_fd& fd) {
  if (!std::has_single_bit(capacity) || capacity < smallest_capacity || capacity > largest_capacity)
    throw std::invalid_argument("a shared-memory ring's capacity must be a power of two from 4 KiB to 1 GiB");
  if (count == 0 || count > most_rings) throw std::invalid_argument("a shared-memory region holds 1 to 31 rings");
  const std::size_t size = header_size + count * capacity;
  std::error_code ec;
  unique_fd created = create_shared_file(name, size, sealing::size, ec);
  if (ec) throw error(ec, "cannot create shared memory of " + size_text(size) + " for " + name);
  // Populated at once: one call allocates the pages that would otherwise fault in one by one.
  auto region = map_shared(created.get(), size, populate::yes, ec);
  if (ec) throw error(ec, "cannot map shared memory of " + size_text(size) + " for " + name);
  char* base = static_cast<char*>(region.get_address());
  *at<std::uint64_t>(base, magic_offset) = magic;
  *at<std::uint32_t>(base, version_offset) = version;
  *at<std::uint32_t>(base, count_offset) = static_cast<std::uint32_t>(count);
  *at<std::uint64_t>(base, capacity_offset) = capacity;
  fd = std::move(created);
  return ring_region(std::move(region), capacity, true);
}

std::optional<ring_region> ring_region::open(const unique_fd& fd, std::size_t count, std::string& why) {
  const auto size = mappable_size(fd.get(), why);
  if (!size) return std::nullopt;
  if (*size < header_size) {
    why = "it is too small (" + size_text(*size) + ")";
    return std::nullopt;
  }
  std::error_code ec;
  auto region = map_shared(fd.get(), *size, populate::yes, ec);
  if (ec) {
    why = "it cannot be mapped: " + ec.message();
    return std::nullopt;
  }
  char* base = static_cast<char*>(region.get_address());
  const std::uint64_t capacity = *at<std::uint64_t>(base, capacity_offset);
  if (*at<std::uint64_t>(base, magic_offset) != magic || *at<std::uint32_t>(base, version_offset) != version) {
    why = "it is not one of forkipc's (version " + std::to_string(version) + ")";
    return std::nullopt;
  }
  if (*at<std::uint32_t>(base, count_offset) != count || !std::has_single_bit(capacity) ||
      capacity < smallest_capacity || capacity > largest_capacity || *size != header_size + count * capacity) {
    why = "it says it holds " + std::to_string(*at<std::uint32_t>(base, count_offset)) + " rings of " +
          size_text(capacity) + " in a file of " + size_text(*size) + " (" + std::to_string(count) + " expected)";
    return std::nullopt;
  }
  return ring_region(std::move(region), static_cast<std::size_t>(capacity), false);
}

byte_ring ring_region::ring(std::size_t index, wake_up how) noexcept {
  char* base = static_cast<char*>(region_.get_address());
  return byte_ring(base + first_lines + index * byte_ring::lines_size, base + header_size + index * capacity_,
                   capacity_, how);
}

}  // namespace forkipc::detail::shm
