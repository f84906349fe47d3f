// output_pipe: the read end of a silent child's stdout or stderr, on an io_context.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include <forkipc/detail/asio.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "unique_fd.hpp"

namespace forkipc::detail {

/// Hands each chunk read to on_data as it comes, on the io_context's thread.
class output_pipe {
 public:
  output_pipe(boost::asio::io_context& io, unique_fd pipe,
              std::function<void(std::string_view)> on_data, std::weak_ptr<void> owner_lifetime);

  void start();
  /// The child has ended: hands over what is left in the pipe, then closes it, even if another
  /// process (one the child started) still holds the write end.
  void drain_and_close();
  bool is_open() const noexcept { return pipe_.is_open(); }

 private:
  void wait_readable();
  void on_readable();
  // Reads until the pipe is empty, or max_reads full reads (0: no limit); true in the latter
  // case, when data may be left.
  bool read_available(int max_reads);

  boost::asio::posix::stream_descriptor pipe_;
  std::function<void(std::string_view)> on_data_;
  std::weak_ptr<void> owner_lifetime_;
  std::unique_ptr<char[]> buffer_;
};

}  // namespace forkipc::detail
