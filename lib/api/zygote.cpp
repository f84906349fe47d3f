#include <forkipc/zygote.hpp>

#include "process/zygote_link.hpp"

namespace forkipc {

class zygote::impl {
 public:
  impl(boost::asio::io_context& io, std::string module_path, std::vector<std::string> args, fork_options options)
      : io_(io), options_(std::move(options)), link_(module_path, args, options_) {}

  boost::asio::io_context& io_;
  fork_options options_;
  detail::zygote_link link_;
};

zygote::zygote(boost::asio::io_context& io, std::string module_path, std::vector<std::string> args,
               fork_options options)
    : impl_(std::make_unique<impl>(io, std::move(module_path), std::move(args), std::move(options))) {}

zygote::~zygote() = default;

std::shared_ptr<child_process> zygote::fork() {
  return child_process::start(impl_->io_, impl_->link_.fork_child(impl_->options_, detail::captured_output::pipe),
                              impl_->options_);
}

pid_t zygote::pid() const noexcept { return impl_->link_.pid(); }

}  // namespace forkipc
