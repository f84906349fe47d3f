// The channel a process was started with: NODE_CHANNEL_FD, taken once per process.
#pragma once

#include "unique_fd.hpp"

namespace forkipc::detail {

/// true when this process was started with NODE_CHANNEL_FD set, whether or not it was taken.
bool started_with_channel() noexcept;

/// Takes the channel: validates it, removes NODE_CHANNEL_FD and NODE_CHANNEL_SERIALIZATION_MODE
/// from the environment and makes the descriptor close-on-exec, as a Node child does at start-up.
/// Throws forkipc::error: errc::not_forked without one; EBUSY when it was taken already;
/// errc::unsupported_serialization for a mode other than json; EBADF, ENOTSOCK, EPROTOTYPE or
/// ENOTCONN when NODE_CHANNEL_FD does not name a connected Unix stream socket.
unique_fd take_inherited_channel();

}  // namespace forkipc::detail
