#include "shm/memfd.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

namespace forkipc::detail::shm {
namespace {

constexpr int size_seals = F_SEAL_SHRINK | F_SEAL_GROW;

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

}  // namespace

unique_fd create_memfd(const char* name, std::size_t size, sealing seal, std::error_code& ec) noexcept {
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

std::optional<std::size_t> sealed_size(int fd, std::string& why) {
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

}  // namespace forkipc::detail::shm
