// forkipc::shared_segment: memory a parent and its children share, managed by Boost.Interprocess.
#pragma once

#include <cstddef>
#include <string>
#include <system_error>

#include <boost/interprocess/managed_external_buffer.hpp>
#include <boost/interprocess/mapped_region.hpp>

#include <forkipc/detail/export.hpp>
#include <forkipc/handle.hpp>

namespace forkipc {

class FORKIPC_API shared_segment;  // exported: see forkipc/detail/export.hpp

/// Shared memory with no name: an anonymous memfd, its size sealed, mapped with
/// Boost.Interprocess's mapped_region and holding a boost::interprocess::managed_external_buffer,
/// in which processes construct<T>, find<T>, allocate vectors and maps (containers must use
/// the buffer's allocator, which holds offset pointers: each process maps the segment at its own
/// address).
///
///     auto segment = forkipc::shared_segment::create(64 << 20);
///     segment.memory().construct<std::atomic<long>>("hits")(0);
///     child->send({{"segment", "hits"}}, segment.share());
///     // in the child, whose "message" listener took (const json&, forkipc::handle h):
///     auto segment = forkipc::shared_segment::open(std::move(h));
///     segment.memory().find<std::atomic<long>>("hits").first->fetch_add(1);
///
/// The memory is freed by the kernel once the last process that holds a segment (or a
/// descriptor of it) lets go, however it ends: SIGKILL included, nothing stays in /dev/shm.
/// A process that dies leaves the others' mappings whole (the size cannot change, so none of
/// them gets SIGBUS).
///
/// What the segment does not do for you:
/// - managed_external_buffer's allocator and its index of names are not locked between
///   processes (Boost gives it a null mutex): construct, allocate, destroy and grow containers
///   in one process at a time (e.g. the parent builds, then shares; or take turns by messages).
///   find() alone, from many processes, is safe while no one changes the names.
/// - A process that dies while holding a boost::interprocess::interprocess_mutex in the segment
///   leaves it locked for ever (Boost 1.74 has no robust mutexes): the others hang in lock().
///   Share lock-free std::atomic values (is_always_lock_free), or put a robust pthread mutex in
///   the segment yourself. See docs/shared-segments.md.
///
/// Layout: forkipc's header (header_size bytes: a magic, a version, the Boost version, the
/// size) at the start of the memfd, then size() bytes for the managed_external_buffer.
///
/// Move-only. The segment owns its descriptor and its mapping, and releases both when
/// destroyed; an object taken from memory() must not outlive it. An empty segment (default
/// constructed, or moved from) holds nothing: only size(), operator bool and destruction apply.
class shared_segment {
 public:
  /// Bytes at the start of the memfd before the managed memory.
  static constexpr std::size_t header_size = 64;

  /// An empty segment.
  shared_segment() noexcept;

  /// A new segment whose managed memory holds size bytes (the memfd holds header_size more;
  /// pages are allocated as they are first touched). Throws forkipc::error: a system error
  /// (EMFILE, ENOMEM, ...) or std::errc::invalid_argument for a size too small for the
  /// buffer's own bookkeeping (a few hundred bytes) or too large for a file.
  static shared_segment create(std::size_t size);
  /// As above; on failure returns an empty segment with ec set.
  static shared_segment create(std::size_t size, std::error_code& ec);

  /// The segment whose descriptor another process passed (see share()). Refuses, with a
  /// forkipc::error of code errc::invalid_segment whose what() says why, a descriptor that is
  /// not a memfd (a pipe, a socket, a regular file), a memfd not sealed against shrinking and
  /// growing (its owner could truncate it under our reads), one that does not start with
  /// forkipc's header (another program's memfd), of another header version or Boost version,
  /// or whose size is not what its header says. A system error (ENOMEM, EACCES for a
  /// read-only descriptor) when it cannot be mapped. h is taken in every case: closed on
  /// failure, held by the segment on success.
  ///
  /// The check stops at the header: the managed memory itself is trusted, as the processes that
  /// share a segment trust each other.
  static shared_segment open(handle h);
  /// As above; on failure returns an empty segment with ec set.
  static shared_segment open(handle h, std::error_code& ec);

  /// A new descriptor of the segment (close-on-exec) to send with a message:
  /// child->send(message, segment.share()). Throws forkipc::error if it cannot be duplicated
  /// (EMFILE), or on an empty segment (EBADF).
  handle share() const;
  /// As above; on failure returns an empty handle with ec set.
  handle share(std::error_code& ec) const;

  /// The managed memory: construct<T>(name), find<T>(name), get_segment_manager() for
  /// allocators, ... Its objects live until destroyed or until the last holder of the segment
  /// ends.
  boost::interprocess::managed_external_buffer& memory() noexcept { return memory_; }
  /// As above, for a const segment: find<T>(name) and the like.
  const boost::interprocess::managed_external_buffer& memory() const noexcept { return memory_; }

  /// Bytes of managed memory: what create() was given (0 when empty).
  std::size_t size() const noexcept;

  /// true unless empty.
  explicit operator bool() const noexcept { return static_cast<bool>(fd_); }

  /// Takes the other segment's descriptor and mapping; the other is empty afterwards. Objects in
  /// the memory stay where they are (the mapping does not move).
  shared_segment(shared_segment&&) noexcept = default;
  /// Releases this segment's mapping and descriptor, then takes the other's as the move
  /// constructor does.
  shared_segment& operator=(shared_segment&&) noexcept = default;
  shared_segment(const shared_segment&) = delete;
  shared_segment& operator=(const shared_segment&) = delete;
  /// Unmaps the memory and closes the descriptor; the memory itself lives on while another
  /// process or descriptor holds it.
  ~shared_segment() = default;

 private:
  shared_segment(handle fd, boost::interprocess::mapped_region region,
                 boost::interprocess::managed_external_buffer memory) noexcept;
  // The forms above, with why a failure happened for the throwing forms' messages.
  static shared_segment try_create(std::size_t size, std::error_code& ec, std::string& why);
  static shared_segment try_open(handle h, std::error_code& ec, std::string& why);

  // Destroyed in reverse: the buffer object, then the mapping, then the descriptor.
  handle fd_;
  boost::interprocess::mapped_region region_;
  boost::interprocess::managed_external_buffer memory_;
};

}  // namespace forkipc
