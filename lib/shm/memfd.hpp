// memfd: the anonymous shared-memory files forkipc passes between processes (the channel's ring
// and value files, shared_segment). Built once here for every user of shared memory.
//
// Why a memfd and never a name in /dev/shm (Boost.Interprocess's shared_memory_object): a named
// object exists from its creation until someone unlinks it, so a process SIGKILLed in between
// leaks it, whatever the protocol. A memfd has no name at all: it reaches another process only
// as a descriptor passed with SCM_RIGHTS, no other process can open it, and the kernel frees it
// with the last descriptor or mapping, on every path.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <system_error>

#include "unique_fd.hpp"

namespace forkipc::detail::shm {

/// Whether a new memfd's size is fixed.
enum class sealing {
  /// Not sealed: for files read and written with pread/pwrite only, never mapped by a peer.
  none,
  /// Sealed with F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL: no process can change its size any
  /// more, nor remove the seals. A file another process maps must be sealed so, or the owner
  /// could truncate it under the other's accesses, which then die of SIGBUS.
  size,
};

/// A new memfd of size bytes (zeroed; pages are allocated as they are first touched),
/// close-on-exec. name shows only in /proc/PID/fd and /proc/PID/maps ("/memfd:NAME (deleted)"):
/// it is no path and no other process can open the file by it. On failure returns an empty
/// descriptor with ec set to the system's error (EMFILE, ENOMEM, EFBIG for a size beyond what
/// the file system takes, ...).
unique_fd create_memfd(const char* name, std::size_t size, sealing seal, std::error_code& ec) noexcept;

/// Checks a descriptor another process passed before mapping it: it must be a memfd (fcntl
/// F_GET_SEALS works on it) sealed against shrinking and growing. Returns its size in bytes, or
/// nullopt with why saying what it is instead, for a message ("it is not a memfd (it takes no
/// seals)", "it is not sealed against shrinking and growing", ...).
std::optional<std::size_t> sealed_size(int fd, std::string& why);

}  // namespace forkipc::detail::shm
