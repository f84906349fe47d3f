// unique_fd: sole owner of one file descriptor, inside the library.
#pragma once

#include <utility>

#include <forkipc/handle.hpp>

namespace forkipc::detail {

/// The library owns its descriptors the way a user owns a passed handle; get() reads as the
/// file-descriptor code around it does.
class unique_fd : public handle {
 public:
  using handle::handle;
  unique_fd() noexcept = default;
  unique_fd(handle&& h) noexcept : handle(std::move(h)) {}

  int get() const noexcept { return fd(); }
};

}  // namespace forkipc::detail
