// Node's handle-passing exchange: {"cmd":"NODE_HANDLE", "type", "msg"} with the descriptor
// attached, answered by {"cmd":"NODE_HANDLE_ACK"}.
#pragma once

#include <string_view>

#include <forkipc/json.hpp>

namespace forkipc::detail {

/// The internal message that carries message and passes fd. Its "type" tells a Node peer what
/// to make of the descriptor: "net.Server" for a listening stream socket, "net.Socket" for
/// another stream socket, "dgram.Socket" (with "dgramType") for a UDP socket, "net.Native" for
/// anything else (which a Node peer cannot use; a forkipc peer takes any descriptor).
json handle_envelope(const json& message, int fd);

/// The internal messages the channel answers itself.
enum class handle_command { none, handle, ack, nack };
handle_command handle_command_of(const json& internal) noexcept;

/// The answers to a NODE_HANDLE: received, or arrived without its descriptor.
const json& handle_ack();
const json& handle_nack();

}  // namespace forkipc::detail
