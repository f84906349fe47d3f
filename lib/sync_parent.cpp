#include <forkipc/sync/parent.hpp>

#include <forkipc/fork_options.hpp>

#include "blocking_channel.hpp"
#include "inherited_channel.hpp"

namespace forkipc::sync {

namespace {

detail::blocking_channel inherited_blocking_channel() {
  detail::inherited_channel inherited = detail::take_inherited_channel();
  detail::channel_settings settings = detail::settings_of(fork_options{});  // the defaults
  settings.mode = inherited.mode;
  return detail::blocking_channel(std::move(inherited.socket), settings);
}

}  // namespace

struct parent::impl {
  detail::blocking_channel channel = inherited_blocking_channel();
};

parent::parent() : impl_(std::make_unique<impl>()) {}
parent::~parent() = default;
parent::parent(parent&&) noexcept = default;
parent& parent::operator=(parent&&) noexcept = default;

std::optional<json> parent::receive() { return impl_->channel.receive(detail::deadline{}); }

void parent::send(const json& message) { impl_->channel.send(message); }

void parent::disconnect() { impl_->channel.close(); }

}  // namespace forkipc::sync
