#include "process/input_pipe.hpp"

#include <cerrno>
#include <vector>

#include <boost/asio/post.hpp>

#include "transport/socket_io.hpp"

namespace forkipc::detail {

input_pipe::input_pipe(boost::asio::io_context& io, unique_fd socket, std::function<void(std::error_code)> on_error,
                       std::weak_ptr<void> owner_lifetime)
    : socket_(io, socket.release()), on_error_(std::move(on_error)), owner_lifetime_(std::move(owner_lifetime)) {}

bool input_pipe::write(std::string_view data, write_queue::callback on_written) {
  queue_.push([data](std::string& chunk) { chunk.append(data); }, std::move(on_written));
  flush();
  return queue_.size() <= high_water;
}

void input_pipe::end() {
  ending_ = true;
  flush();
}

void input_pipe::close() { fail(std::make_error_code(std::errc::broken_pipe), {}); }

// Writes what the socket takes now; waits for it to take more (the child reads) when it is full.
void input_pipe::flush() {
  std::vector<write_queue::callback> completed;
  while (!waiting_ && !queue_.empty()) {
    if (!socket_.is_open()) return fail(std::make_error_code(std::errc::broken_pipe), std::move(completed));
    iovec parts[16];
    const std::size_t count = queue_.gather(parts);
    const ssize_t sent = send_with_fds(socket_.native_handle(), std::span<const iovec>(parts, count), {});
    if (sent == -EAGAIN) {
      waiting_ = true;
      socket_.async_wait(boost::asio::posix::descriptor_base::wait_write,
                         [this, life = owner_lifetime_.lock()](boost::system::error_code ec) {
                           waiting_ = false;
                           if (!ec) flush();
                         });
    } else if (sent < 0) {
      return fail(std::error_code(static_cast<int>(-sent), std::system_category()), std::move(completed));
    } else {
      queue_.consume(static_cast<std::size_t>(sent), completed);
    }
  }
  if (ending_ && queue_.empty() && socket_.is_open()) {
    boost::system::error_code ignored;
    socket_.close(ignored);  // the child reads the end of its stdin
  }
  complete(std::move(completed), {}, false);
}

// Drops what is queued, for ec: its callbacks hear it, or on_error when none had one.
void input_pipe::fail(std::error_code ec, std::vector<write_queue::callback> completed) {
  complete(std::move(completed), {}, false);
  std::vector<write_queue::callback> dropped;
  const bool unread = !queue_.empty();
  queue_.clear(dropped);
  boost::system::error_code ignored;
  socket_.close(ignored);
  complete(std::move(dropped), ec, unread);
}

// Never inside write() or end(): as an Asio handler, on the io_context's thread.
void input_pipe::complete(std::vector<write_queue::callback> callbacks, std::error_code ec, bool unread) {
  if (callbacks.empty() && !unread) return;
  boost::asio::post(socket_.get_executor(), [this, callbacks = std::move(callbacks), ec, unread,
                                             life = owner_lifetime_.lock()] {
    if (callbacks.empty() && unread && on_error_) on_error_(ec);
    for (const auto& done : callbacks) done(ec);
  });
}

}  // namespace forkipc::detail
