// The posix backend of shm/platform.hpp: shm_open, unlinked at once (or SHM_ANON); no seals; a
// bounded poll instead of a futex.
#include "shm/platform.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>
#include <random>
#include <string>
#include <string_view>

namespace forkipc::detail::shm {
namespace {

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

#if !defined(SHM_ANON)
// "/fipc-", what the file is for (its name without "forkipc-", 8 characters at most, which
// shows in /proc/PID/maps as the memfd's name does), "-", and 95 random bits in 16 letters and
// digits: 31 characters at most, macOS's limit.
std::string unguessable_name(std::string_view purpose) {
  constexpr char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  if (purpose.starts_with("forkipc-")) purpose.remove_prefix(8);
  std::string name = "/fipc-" + std::string(purpose.substr(0, 8)) + "-";
  std::random_device random;
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = (std::uint64_t{random()} << 32) | random();
    for (int i = 0; i < 8; ++i, bits /= 62) name += digits[bits % 62];  // 62^8 < 2^48 of the 64
  }
  return name;
}
#endif

// A new shared-memory object that no other process can open: shm_open's descriptors are
// close-on-exec (POSIX says so).
unique_fd open_anonymous([[maybe_unused]] const char* purpose, std::error_code& ec) noexcept {
#if defined(SHM_ANON)
  unique_fd fd(::shm_open(SHM_ANON, O_RDWR | O_CREAT, 0600));  // FreeBSD: no name at all
  if (!fd) ec = last_error();
  return fd;
#else
  try {
    for (int attempt = 0; attempt < 8; ++attempt) {
      const std::string name = unguessable_name(purpose);
      unique_fd fd(::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
      if (!fd && errno == EEXIST) continue;  // 2^-128; but never open someone else's
      if (!fd) {
        ec = last_error();
        return {};
      }
      // The name lived from shm_open to here: the window docs/guarantees.md describes.
      ::shm_unlink(name.c_str());
      return fd;
    }
    ec = std::make_error_code(std::errc::file_exists);
  } catch (const std::exception&) {  // random_device without a source of randomness
    ec = std::make_error_code(std::errc::resource_unavailable_try_again);
  }
  return {};
#endif
}

const char* not_shared_memory(mode_t mode) noexcept {
  if (S_ISSOCK(mode)) return "it is a socket, not shared memory";
  if (S_ISFIFO(mode)) return "it is a pipe, not shared memory";
  if (S_ISDIR(mode)) return "it is a directory, not shared memory";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "it is a device, not shared memory";
  return nullptr;
}

}  // namespace

unique_fd create_shared_file(const char* name, std::size_t size, sealing, std::error_code& ec) noexcept {
  ec.clear();
  if (size > static_cast<std::size_t>(std::numeric_limits<off_t>::max())) {
    ec = std::make_error_code(std::errc::file_too_large);
    return {};
  }
  unique_fd fd = open_anonymous(name, ec);
  if (!fd) return {};
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    ec = last_error();
    return {};
  }
  return fd;
}

std::optional<std::size_t> mappable_size(int fd, std::string& why) {
  // Nothing can be sealed here: the size now is what the peer may map, and all that can be
  // checked (docs/guarantees.md says what a peer that truncates it later can do).
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    why = errno == EBADF ? "it is not an open descriptor" : std::string("it cannot be examined: ") + std::strerror(errno);
    return std::nullopt;
  }
  if (const char* problem = not_shared_memory(status.st_mode)) {
    why = problem;
    return std::nullopt;
  }
  if (status.st_size < 0) {
    why = "it has no size";
    return std::nullopt;
  }
  return static_cast<std::size_t>(status.st_size);
}

const int populate_flag = 0;

void advise_huge_pages(void*, std::size_t) noexcept {}

// POSIX has no wait on a word in shared memory that another process wakes (process-shared
// condition variables keep their state in memory the peer could corrupt, and macOS has none).
// So: yield a few times, as the peer is usually about to move; then sleep in doubling steps of
// 20 µs to 0.5 ms, looking after each. A waiter sees a move at most 0.5 ms late, and costs a few
// wake-ups a millisecond while it waits.
void doorbell_wait(const std::uint32_t* word, std::uint32_t seen, std::chrono::microseconds max) noexcept {
  using clock = std::chrono::steady_clock;
  const auto until = clock::now() + max;
  const auto moved = [&] { return __atomic_load_n(word, __ATOMIC_SEQ_CST) != seen; };
  for (int i = 0; i < 16; ++i) {
    if (moved()) return;
    ::sched_yield();
  }
  for (std::chrono::microseconds step{20}; !moved(); step = std::min(step * 2, std::chrono::microseconds{500})) {
    const auto left = until - clock::now();
    if (left <= clock::duration::zero()) return;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::min<clock::duration>(step, left)).count();
    const timespec pause{0, static_cast<long>(ns)};
    ::nanosleep(&pause, nullptr);
  }
}

void doorbell_wake(std::uint32_t*) noexcept {}

}  // namespace forkipc::detail::shm
