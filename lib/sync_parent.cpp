#include <forkipc/sync/parent.hpp>

#include <forkipc/fork_options.hpp>

#include "blocking_channel.hpp"
#include "inherited_channel.hpp"

namespace forkipc::sync {

struct parent::impl {
  detail::blocking_channel channel{detail::take_inherited_channel(), fork_options{}.max_message_size};
};

parent::parent() : impl_(std::make_unique<impl>()) {}
parent::~parent() = default;
parent::parent(parent&&) noexcept = default;
parent& parent::operator=(parent&&) noexcept = default;

std::optional<json> parent::receive() { return impl_->channel.receive(detail::deadline{}); }

void parent::send(const json& message) { impl_->channel.send(message); }

void parent::disconnect() { impl_->channel.close(); }

}  // namespace forkipc::sync
