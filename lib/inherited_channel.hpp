// The channel a process was started with: NODE_CHANNEL_FD, taken once per process.
#pragma once

#include <forkipc/serialization.hpp>

#include "unique_fd.hpp"

namespace forkipc::detail {

/// true when this process was started with NODE_CHANNEL_FD set, whether or not it was taken.
bool started_with_channel() noexcept;

/// The value of NODE_CHANNEL_SERIALIZATION_MODE that asks for serialization::binary: a name of
/// forkipc's own, which a Node child refuses at start-up.
inline constexpr const char* binary_serialization_name = "forkipc-binary";

/// The channel this process was started with.
struct inherited_channel {
  unique_fd socket;
  serialization mode = serialization::json;
};

/// Takes the channel: validates it, removes NODE_CHANNEL_FD and NODE_CHANNEL_SERIALIZATION_MODE
/// from the environment and makes the descriptor close-on-exec, as a Node child does at start-up.
/// Throws forkipc::error: errc::not_forked without one; EBUSY when it was taken already;
/// errc::unsupported_serialization for a mode other than json and forkipc-binary; EBADF,
/// ENOTSOCK, EPROTOTYPE or ENOTCONN when NODE_CHANNEL_FD does not name a connected Unix stream
/// socket.
inherited_channel take_inherited_channel();

}  // namespace forkipc::detail
