// input_pipe: the parent's end of a silent child's stdin, on an io_context.
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <system_error>
#include <vector>

#include <forkipc/detail/asio.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "transport/write_queue.hpp"
#include "unique_fd.hpp"

namespace forkipc::detail {

/// Writes what it is given to the child's stdin in order, as fast as the child reads it, without
/// blocking: what the socket does not take at once waits in a queue. For the io_context's thread.
class input_pipe {
 public:
  /// on_error hears a failed write whose bytes had no callback to tell (the child closed its
  /// stdin, or ended, before it read them).
  input_pipe(boost::asio::io_context& io, unique_fd socket, std::function<void(std::error_code)> on_error,
             std::weak_ptr<void> owner_lifetime);

  /// Queues data; on_written (may be empty) completes once the child's stdin took all of it, or
  /// with the error that kept it from doing so. Returns false once more than high_water bytes
  /// wait (Node's writable.write()): writing on is allowed, and queued.
  bool write(std::string_view data, write_queue::callback on_written);
  /// Closes the child's stdin once what is queued is written: the child reads its end.
  void end();
  bool ending() const noexcept { return ending_; }
  /// The child has ended: drops what is still queued (its callbacks complete with EPIPE) and
  /// closes the socket.
  void close();

  static constexpr std::size_t high_water = 64 * 1024;

 private:
  void flush();
  void fail(std::error_code ec, std::vector<write_queue::callback> completed);
  void complete(std::vector<write_queue::callback> callbacks, std::error_code ec, bool unread);

  boost::asio::posix::stream_descriptor socket_;
  std::function<void(std::error_code)> on_error_;
  std::weak_ptr<void> owner_lifetime_;
  write_queue queue_;
  bool waiting_ = false;  // for the socket to take more
  bool ending_ = false;
};

}  // namespace forkipc::detail
