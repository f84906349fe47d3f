#include "shared_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>
#include <utility>

#include <forkipc/error.hpp>

namespace forkipc::detail {
namespace {

constexpr std::size_t minimum_capacity = std::size_t{8} << 20;
constexpr std::size_t reference_size = 4 + 8 + 8 + 8;  // region, offset, size, release_to
constexpr std::uintptr_t huge_page_size = std::uintptr_t{2} << 20;

[[noreturn]] void throw_errno(int code, const std::string& what) {
  throw error(std::error_code(code, std::system_category()), what);
}

std::size_t round_up(std::size_t n, std::size_t unit) { return (n + unit - 1) / unit * unit; }

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

}  // namespace

// ---- shared_region ----

shared_region shared_region::create(std::size_t capacity, unique_fd& fd) {
  const std::size_t size = round_up(header_size + capacity, static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)));
  unique_fd created(::memfd_create("forkipc", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!created) throw_errno(errno, "cannot create a shared-memory region for a large binary value");
  if (::ftruncate(created.get(), static_cast<off_t>(size)) != 0 ||
      ::fcntl(created.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    throw_errno(errno, "cannot size a shared-memory region of " + std::to_string(size) + " bytes");
  }
  // Populated at once: one call allocates the pages that would otherwise fault in one by one.
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, created.get(), 0);
  if (base == MAP_FAILED) throw_errno(errno, "cannot map a shared-memory region of " + std::to_string(size) + " bytes");
  fd = std::move(created);
  return shared_region(static_cast<std::uint8_t*>(base), size);
}

std::optional<shared_region> shared_region::adopt(const unique_fd& fd, std::string& why) {
  const int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals < 0 || (seals & F_SEAL_SHRINK) == 0) {
    why = "the peer passed a shared-memory region that is not a memfd sealed against shrinking";
    return std::nullopt;
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0 || status.st_size < static_cast<off_t>(header_size)) {
    why = "the peer passed a shared-memory region too small for its header";
    return std::nullopt;
  }
  const auto size = static_cast<std::size_t>(status.st_size);
  // Populated at once, as the creator's mapping is: the pages exist, only the mapping is new.
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd.get(), 0);
  if (base == MAP_FAILED) {
    why = "cannot map the peer's shared-memory region of " + std::to_string(size) + " bytes: " +
          std::strerror(errno);
    return std::nullopt;
  }
  return shared_region(static_cast<std::uint8_t*>(base), size);
}

shared_region::shared_region(shared_region&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)) {}

shared_region& shared_region::operator=(shared_region&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) ::munmap(base_, size_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

shared_region::~shared_region() {
  if (base_ != nullptr) ::munmap(base_, size_);
}

// The header is the first 8 bytes of a page-aligned mapping, zero when created: a lock-free
// 64-bit atomic both processes may use through atomic_ref.
std::uint64_t shared_region::released() const noexcept {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(base_)).load(std::memory_order_acquire);
}

void shared_region::release_to(std::uint64_t position) noexcept {
  std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(base_)).store(position, std::memory_order_release);
}

// ---- shm_outbox ----

void shm_outbox::begin() noexcept {
  saved_id_ = region_id_;
  saved_head_ = head_;
}

std::vector<unique_fd> shm_outbox::commit() noexcept {
  replaced_.clear();
  return std::exchange(new_fds_, {});
}

void shm_outbox::rollback() noexcept {
  if (!replaced_.empty()) region_ = std::move(replaced_.front());
  replaced_.clear();
  new_fds_.clear();
  region_id_ = saved_id_;
  head_ = saved_head_;
}

std::size_t shm_outbox::in_flight() const noexcept {
  if (!region_) return 0;
  return static_cast<std::size_t>(head_ - std::min(region_->released(), head_));
}

bool shm_outbox::spill(std::span<const std::uint8_t> bytes, std::string& out) {
  const std::size_t n = bytes.size();
  // Ring-buffer placement with positions that only grow: the peer releases in order, so the
  // free space is the capacity less what lies between its release point and head_. A value
  // does not wrap around the end: it starts over at offset 0, and the bytes skipped count as
  // placed.
  const auto place = [&]() -> std::optional<std::uint64_t> {
    if (!region_) return std::nullopt;
    const std::size_t capacity = region_->data().size();
    const std::uint64_t released = std::min(region_->released(), head_);
    const std::size_t free = capacity - static_cast<std::size_t>(head_ - released);
    const std::size_t offset = static_cast<std::size_t>(head_ % capacity);
    const std::size_t skip = offset + n > capacity ? capacity - offset : 0;
    if (n > capacity || skip + n > free) return std::nullopt;
    return head_ + skip;
  };
  std::optional<std::uint64_t> position = place();
  const std::size_t old_capacity = region_ ? region_->data().size() : 0;
  if (!position && old_capacity >= 2 * n) {  // busy, not too small: give the peer a moment
    // Long enough for the peer to copy out what it has at a slow 1 GB/s, and then some.
    const auto deadline = std::chrono::steady_clock::now() + busy_wait +
                          std::chrono::microseconds((head_ - std::min(region_->released(), head_)) / 1000);
    while (!(position = place()) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    if (!position && n <= inline_limit) return false;
  }
  if (!position) {
    // Too small: a new region, large enough for this value twice over, so that the next one
    // fits while the peer reads this one.
    const std::size_t capacity = std::max(minimum_capacity, 2 * n);
    unique_fd fd;
    shared_region created = shared_region::create(capacity, fd);
    replaced_.push_back(std::move(region_));
    region_ = std::move(created);
    new_fds_.push_back(std::move(fd));
    ++region_id_;
    head_ = 0;
    position = 0;
  }
  const std::size_t capacity = region_->data().size();
  const auto offset = static_cast<std::size_t>(*position % capacity);
  std::memcpy(region_->data().data() + offset, bytes.data(), n);
  head_ = *position + n;
  put<std::uint32_t>(out, region_id_);
  put<std::uint64_t>(out, offset);
  put<std::uint64_t>(out, n);
  put<std::uint64_t>(out, head_);
  return true;
}

// ---- shm_inbox ----

std::optional<std::string> shm_inbox::fetch(std::string_view reference, json::binary_t& out) {
  if (reference.size() != reference_size)
    return "a shared-memory reference of " + std::to_string(reference.size()) + " bytes";
  const auto id = get<std::uint32_t>(reference);
  const auto offset = get<std::uint64_t>(reference);
  const auto size = get<std::uint64_t>(reference);
  const auto release_to = get<std::uint64_t>(reference);
  if (id == region_id_ + 1) {  // the peer moved to a new region: its descriptor came first
    if (received_fds_.empty())
      return std::string("a reference to a new shared-memory region that came without it");
    const unique_fd fd = std::move(received_fds_.front());
    received_fds_.pop_front();
    std::string why;
    auto adopted = shared_region::adopt(fd, why);
    if (!adopted) return why;
    region_ = std::move(adopted);  // the old one's references all came before this one
    region_id_ = id;
  } else if (id != region_id_ || !region_) {
    return "a reference to shared-memory region " + std::to_string(id) + ", which the peer never passed";
  }
  const std::span<std::uint8_t> data = region_->data();
  if (offset > data.size() || size > data.size() - offset)
    return "a shared-memory reference beyond its region's " + std::to_string(data.size()) + " bytes";
  if (size > max_message_size_ - fetched_) {
    region_->release_to(release_to);  // refused, but the space is the peer's to reuse
    return "shared-memory values of more than the limit of " + std::to_string(max_message_size_) +
           " bytes in one message";
  }
  fetched_ += size;
  out.clear();
  out.reserve(size);
  // A large value's fresh pages would fault in one 4 KiB page at a time as the copy touches
  // them (for 64 MiB, 16k faults: most of the cost). Huge pages, where the kernel offers them
  // on request, make that 32 faults.
  if (size >= huge_page_size) {
    const auto first = (reinterpret_cast<std::uintptr_t>(out.data()) + huge_page_size - 1) & ~(huge_page_size - 1);
    const auto last = (reinterpret_cast<std::uintptr_t>(out.data()) + size) & ~(huge_page_size - 1);
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  }
  out.assign(data.begin() + static_cast<std::ptrdiff_t>(offset),
             data.begin() + static_cast<std::ptrdiff_t>(offset + size));
  region_->release_to(release_to);
  return std::nullopt;
}

}  // namespace forkipc::detail
