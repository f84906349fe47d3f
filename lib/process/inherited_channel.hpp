// The channel a process was started with: NODE_CHANNEL_FD, taken once per process.
#pragma once

#include <optional>
#include <string_view>

#include <forkipc/serialization.hpp>
#include <forkipc/transport.hpp>

#include "transport/byte_stream.hpp"  // channel_link

namespace forkipc::detail {

/// true when this process was started with NODE_CHANNEL_FD set, whether or not it was taken.
bool started_with_channel() noexcept;

/// How a channel frames its bytes and what they travel through.
struct channel_mode {
  serialization framing = serialization::json;
  forkipc::transport transport = forkipc::transport::socket;
};

/// The value of NODE_CHANNEL_SERIALIZATION_MODE that asks for mode: Node's "json" or "advanced",
/// or a name of forkipc's own ("forkipc-binary", "forkipc-json-shm", "forkipc-binary-shm",
/// "forkipc-advanced-shm"), which a Node child (or a forkipc too old to know it) refuses at
/// start-up instead of misreading bytes.
const char* channel_mode_name(channel_mode mode) noexcept;
/// The mode a name asks for; nullopt for one forkipc does not know.
std::optional<channel_mode> channel_mode_named(std::string_view name) noexcept;

/// The channel this process was started with.
struct inherited_channel {
  channel_link link;
  serialization mode = serialization::json;
};

/// Takes the channel: validates it, removes NODE_CHANNEL_FD and NODE_CHANNEL_SERIALIZATION_MODE
/// from the environment and makes the descriptor close-on-exec, as a Node child does at start-up.
/// Throws forkipc::error: errc::not_forked without one; EBUSY when it was taken already;
/// errc::unsupported_serialization for a mode it does not know; errc::malformed_message when the
/// shared-memory transport was asked for and the parent did not pass its memory first; EBADF,
/// ENOTSOCK, EPROTOTYPE or ENOTCONN when NODE_CHANNEL_FD does not name a connected Unix stream
/// socket.
inherited_channel take_inherited_channel();

}  // namespace forkipc::detail
