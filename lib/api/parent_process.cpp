#include <forkipc/parent_process.hpp>

#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include <forkipc/default_context.hpp>
#include <forkipc/fork_options.hpp>

#include "api/endpoint_core.hpp"
#include "channel/channel.hpp"
#include "process/inherited_channel.hpp"

namespace forkipc {

namespace events = detail::events;

class parent_process::impl final : public detail::endpoint_core<decltype(parent_process::events_)> {
 public:
  impl(parent_process& self, boost::asio::io_context& io, detail::inherited_channel inherited,
       const channel_options& options)
      : endpoint_core(self.events_),
        self_(self),
        io_(io),
        lifetime_(self.weak_from_this()),
        channel_(io, std::move(inherited.link), {inherited.mode, options}, *this, lifetime_) {}

  // What was sent is written before the channel goes: a child's last words reach its parent.
  ~impl() { channel_.flush_for_exit(); }

  boost::asio::io_context& io() noexcept { return io_; }
  detail::channel& channel() noexcept { return channel_; }

 private:
  std::string peer_name() const override { return "channel to the parent"; }

  void on_channel_closed() override {
    self_.events_.emit<events::disconnect>();
    self_.events_.clear();  // "disconnect" is the last event: release what the listeners hold
  }

  parent_process& self_;
  boost::asio::io_context& io_;
  std::weak_ptr<void> lifetime_;
  detail::channel channel_;
};

namespace {

// The parent_process of this process, while it lives: the channel it holds is process-wide.
struct current_parent {
  std::mutex mutex;
  std::weak_ptr<parent_process> process;
};

current_parent& current() {
  static current_parent instance;
  return instance;
}

}  // namespace

parent_process::parent_process(private_tag) {}

parent_process::~parent_process() = default;

bool has_parent() noexcept { return detail::started_with_channel(); }

std::shared_ptr<parent_process> parent(boost::asio::io_context& io) { return parent(io, channel_options{}); }

std::shared_ptr<parent_process> parent(boost::asio::io_context& io, const channel_options& options) {
  current_parent& c = current();
  std::lock_guard lock(c.mutex);
  if (auto existing = c.process.lock()) {
    if (&existing->impl_->io() != &io)
      throw std::invalid_argument("forkipc::parent: the channel to the parent is already on another io_context");
    return existing;
  }
  detail::inherited_channel inherited = detail::take_inherited_channel();
  auto result = std::make_shared<parent_process>(parent_process::private_tag{});
  result->impl_ = std::make_unique<parent_process::impl>(*result, io, std::move(inherited), options);
  result->channel_ = &result->impl_->channel();
  result->impl_->channel().start();
  c.process = result;
  // A process that ends through exit() destroys nothing on its stack: write what is queued then.
  static const bool flush_at_exit_registered = [] {
    std::atexit([] {
      if (auto p = current().process.lock()) p->impl_->channel().flush_for_exit();
    });
    return true;
  }();
  (void)flush_at_exit_registered;
  return result;
}

std::shared_ptr<parent_process> parent() { return parent(default_context()); }

std::shared_ptr<parent_process> parent(const channel_options& options) { return parent(default_context(), options); }

}  // namespace forkipc
