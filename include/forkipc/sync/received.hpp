// forkipc::sync::received: what the blocking API's receive_any() returns.
#pragma once

#include <cstddef>
#include <span>
#include <variant>

#include <forkipc/json.hpp>

namespace forkipc {
namespace sync {

/// A message, or the bytes of one send_bytes() frame. The bytes are a view of the channel's
/// buffer, valid until the next receive call on the same object: copy them to keep them.
using received = std::variant<json, std::span<const std::byte>>;

}  // namespace sync
}  // namespace forkipc
