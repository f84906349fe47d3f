#include <forkipc/sync/parent.hpp>

#include "blocking_channel.hpp"
#include "inherited_channel.hpp"

namespace forkipc::sync {

struct parent::impl {
  impl(detail::inherited_channel inherited, const channel_options& options)
      : channel(std::move(inherited.socket), {inherited.mode, options}) {}

  detail::blocking_channel channel;
};

parent::parent() : parent(channel_options{}) {}

parent::parent(const channel_options& options)
    : impl_(std::make_unique<impl>(detail::take_inherited_channel(), options)) {}

parent::~parent() = default;
parent::parent(parent&&) noexcept = default;
parent& parent::operator=(parent&&) noexcept = default;

std::optional<json> parent::receive() { return impl_->channel.receive(detail::deadline{}); }

void parent::send(const json& message) { impl_->channel.send(message); }

void parent::disconnect() { impl_->channel.close(); }

}  // namespace forkipc::sync
