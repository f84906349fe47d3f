#include <forkipc/channel_end.hpp>

#include "channel/channel.hpp"

namespace forkipc {

bool channel_end::send(const json& message, std::function<void(std::error_code)> on_sent) {
  return channel_->send(message, {}, std::move(on_sent));
}

bool channel_end::send(const json& message, handle passed, std::function<void(std::error_code)> on_sent) {
  return channel_->send(message, std::move(passed), std::move(on_sent));
}

bool channel_end::send_bytes(std::span<const std::byte> bytes, std::function<void(std::error_code)> on_sent) {
  return channel_->send_bytes(bytes, std::move(on_sent));
}

void channel_end::disconnect() { channel_->disconnect(); }

bool channel_end::connected() const noexcept { return channel_->is_open(); }

}  // namespace forkipc
