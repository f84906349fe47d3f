// The linux backend of shm/platform.hpp: memfds, sealed; futexes.
#include "shm/platform.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <limits>

namespace forkipc::detail::shm {
namespace {

constexpr int size_seals = F_SEAL_SHRINK | F_SEAL_GROW;

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

}  // namespace

unique_fd create_shared_file(const char* name, std::size_t size, sealing seal, std::error_code& ec) noexcept {
  ec.clear();
  if (size > static_cast<std::size_t>(std::numeric_limits<off_t>::max())) {
    ec = std::make_error_code(std::errc::file_too_large);
    return {};
  }
  unique_fd fd(::memfd_create(name, MFD_CLOEXEC | (seal == sealing::size ? MFD_ALLOW_SEALING : 0u)));
  if (!fd) {
    ec = last_error();
    return {};
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0 ||
      (seal == sealing::size && ::fcntl(fd.get(), F_ADD_SEALS, size_seals | F_SEAL_SEAL) != 0)) {
    ec = last_error();
    return {};
  }
  return fd;
}

std::optional<std::size_t> mappable_size(int fd, std::string& why) {
  // F_GET_SEALS answers only for memfds (and other tmpfs files, which cannot be sealed: they
  // report F_SEAL_SEAL alone); a pipe, a socket, a file elsewhere get EINVAL.
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) {
    if (errno == EBADF) {
      why = "it is not an open descriptor";
    } else if (errno == EINVAL) {
      why = "it is not a memfd (it takes no seals)";
    } else {
      why = std::string("its seals cannot be read: ") + std::strerror(errno);
    }
    return std::nullopt;
  }
  if ((seals & size_seals) != size_seals) {
    why = "it is not sealed against shrinking and growing (F_SEAL_SHRINK | F_SEAL_GROW), so its "
          "owner could truncate it under this process's reads";
    return std::nullopt;
  }
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    why = std::string("its size cannot be read: ") + std::strerror(errno);
    return std::nullopt;
  }
  return static_cast<std::size_t>(status.st_size);
}

const int populate_flag = MAP_POPULATE;

void advise_huge_pages(void* address, std::size_t size) noexcept { (void)::madvise(address, size, MADV_HUGEPAGE); }

// A futex in shared memory, keyed by the file and offset, so not FUTEX_PRIVATE. EAGAIN (rung
// meanwhile), EINTR and ETIMEDOUT all mean: look again.
void doorbell_wait(const std::uint32_t* word, std::uint32_t seen, std::chrono::microseconds max) noexcept {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(max).count();
  const timespec timeout{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  (void)::syscall(SYS_futex, word, FUTEX_WAIT, seen, &timeout, nullptr, 0);
}

void doorbell_wake(std::uint32_t* word) noexcept {
  (void)::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace forkipc::detail::shm
