#include <forkipc/sync/parent.hpp>

#include "channel/blocking_channel.hpp"
#include "process/inherited_channel.hpp"

namespace forkipc::sync {

struct parent::impl {
  impl(detail::inherited_channel inherited, const channel_options& options)
      : channel(std::move(inherited.link), {inherited.mode, options}) {}

  detail::blocking_channel channel;
};

parent::parent() : parent(channel_options{}) {}

parent::parent(const channel_options& options)
    : impl_(std::make_unique<impl>(detail::take_inherited_channel(), options)) {}

parent::~parent() = default;
parent::parent(parent&&) noexcept = default;
parent& parent::operator=(parent&&) noexcept = default;

std::optional<std::pair<json, handle>> parent::receive_with_handle() {
  return detail::with_handle(impl_->channel.receive(detail::deadline{}));
}

std::optional<received> parent::receive_any() {
  return detail::without_handle(impl_->channel.receive(detail::deadline{}));
}

std::optional<json> parent::receive() {
  auto received = receive_with_handle();  // a handle that came is closed here
  if (!received) return std::nullopt;
  return std::move(received->first);
}

void parent::send(const json& message) { impl_->channel.send(message); }

void parent::send(const json& message, handle h) { impl_->channel.send(message, std::move(h)); }

void parent::send_bytes(std::span<const std::byte> bytes) { impl_->channel.send_bytes(bytes); }

void parent::disconnect() { impl_->channel.close(); }

}  // namespace forkipc::sync
