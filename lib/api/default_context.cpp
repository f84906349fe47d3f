#include <forkipc/default_context.hpp>

namespace forkipc {

boost::asio::io_context& default_context() {
  static boost::asio::io_context io;
  return io;
}

std::size_t run() { return default_context().run(); }

}  // namespace forkipc
