// platform: what shared memory needs of the system beyond POSIX, behind one interface with two
// implementations, chosen by Meson's `platform` option: shm/linux/platform.cpp (memfds, sealed;
// futexes) and shm/posix/platform.cpp (shm_open, unlinked at once; no seals; no futex).
//
// Why a file with no name: a named object (Boost.Interprocess's shared_memory_object, a file in
// /dev/shm) exists from its creation until someone unlinks it, so a process SIGKILLed in between
// leaks it, whatever the protocol. A memfd never has a name: it reaches another process only as a
// descriptor passed with SCM_RIGHTS, and the kernel frees it with the last descriptor or
// mapping, on every path. POSIX has no such call: the posix backend names the object with 128
// random bits and unlinks it before it returns (SHM_ANON, where the system has it, has no name
// at all); docs/guarantees.md says what the short window and the missing seals leave open.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

#include "unique_fd.hpp"

namespace forkipc::detail::shm {

// ---- files of shared memory ----

/// Whether a new file's size is fixed.
enum class sealing {
  /// Not sealed: for files read and written with pread/pwrite only, never mapped by a peer.
  none,
  /// Sealed, where the system can (Linux: F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), so that no
  /// process can change its size any more. A file another process maps must be sealed so, or
  /// its owner could truncate it under the other's accesses, which then die of SIGBUS. The posix
  /// backend has no seals: there mappable_size() is all the checking there is.
  size,
};

/// A new file of shared memory of size bytes (zeroed; pages are allocated as they are first
/// touched), close-on-exec, that no other process can open: it reaches one only as a passed
/// descriptor. name shows only in /proc/PID/fd and /proc/PID/maps on Linux: "/memfd:NAME
/// (deleted)"; on the posix backend "/dev/shm/fipc-NAME-RANDOM (deleted)", NAME without its
/// "forkipc-", cut to 8 characters. On failure returns an empty descriptor with ec set to the system's
/// error (EMFILE, ENOMEM, EFBIG for a size beyond what the file system takes, ...).
unique_fd create_shared_file(const char* name, std::size_t size, sealing seal, std::error_code& ec) noexcept;

/// Checks a descriptor another process passed before mapping it, and returns its size in bytes,
/// or nullopt with why saying what it is instead, for a message. Linux: it must be a memfd
/// sealed against shrinking and growing ("it is not a memfd (it takes no seals)", "it is not
/// sealed against shrinking and growing", ...). POSIX: it must be a file that can be mapped,
/// not a socket, pipe, directory or device ("it is a socket, not shared memory").
std::optional<std::size_t> mappable_size(int fd, std::string& why);

/// The mmap flag that maps every page at once (Linux's MAP_POPULATE), or 0 where there is none.
extern const int populate_flag;

/// Asks for huge pages under [address, address + size), where the system takes such advice
/// (Linux: MADV_HUGEPAGE); a hint, so never an error.
void advise_huge_pages(void* address, std::size_t size) noexcept;

// ---- waiting on a word both processes map ----

/// Sleeps until another process moves *word past seen (and calls doorbell_wake), or for at most
/// max. Returns early for no reason too: the caller looks again either way. Linux: a futex, so
/// the sleeper wakes at once. POSIX has no cross-process wait on a word: the posix backend
/// yields, then sleeps in short steps up to max, each followed by a look (a bounded poll; see
/// docs/guarantees.md).
void doorbell_wait(const std::uint32_t* word, std::uint32_t seen, std::chrono::microseconds max) noexcept;
/// Wakes the processes that sleep on word (nothing to do where they poll).
void doorbell_wake(std::uint32_t* word) noexcept;

}  // namespace forkipc::detail::shm
