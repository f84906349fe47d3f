// mapping: a memfd mapped into this process with Boost.Interprocess's mapped_region.
#pragma once

#include <cstddef>
#include <system_error>

#include <boost/interprocess/mapped_region.hpp>

namespace forkipc::detail::shm {

/// A descriptor as mapped_region takes it. mapped_region maps any type with a
/// get_mapping_handle() member (its own shared_memory_object and file_mapping are two); Boost
/// 1.74 has none for a descriptor it did not open, and this adapter is that one. It does not
/// own the descriptor.
class mappable_fd {
 public:
  explicit mappable_fd(int fd) noexcept : fd_(fd) {}
  boost::interprocess::mapping_handle_t get_mapping_handle() const noexcept {
    return boost::interprocess::ipcdetail::mapping_handle_from_file_handle(fd_);
  }

 private:
  int fd_;
};

/// Whether a mapping's pages are allocated and mapped at once (MAP_POPULATE): one call instead of
/// a page fault per page on first touch. Worth it for memory that is about to be touched whole
/// (the channel's ring); not for a segment whose size the user chose and may never fill.
enum class populate { no, yes };

/// Maps the first size bytes of fd, shared and read-write. The mapping lives as long as the
/// returned region (mapped_region unmaps on destruction), independently of the descriptor. On
/// failure returns an empty region (get_address() null) with ec set: the system's error (EACCES
/// for a descriptor opened read-only, EPERM for a memfd sealed against writing, ENOMEM, ...).
boost::interprocess::mapped_region map_shared(int fd, std::size_t size, populate how,
                                              std::error_code& ec) noexcept;

}  // namespace forkipc::detail::shm
