#include "process/output_pipe.hpp"

#include <unistd.h>

#include <cerrno>

#include <boost/asio/post.hpp>

namespace forkipc::detail {
namespace {

constexpr std::size_t buffer_size = 64 * 1024;

}  // namespace

output_pipe::output_pipe(boost::asio::io_context& io, unique_fd pipe,
                         std::function<void(std::string_view)> on_data,
                         std::weak_ptr<void> owner_lifetime)
    : pipe_(io, pipe.release()),
      on_data_(std::move(on_data)),
      owner_lifetime_(std::move(owner_lifetime)),
      buffer_(new char[buffer_size]) {}  // uninitialized, as read() fills it

void output_pipe::start() { wait_readable(); }

void output_pipe::wait_readable() {
  pipe_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                   [this, life = owner_lifetime_.lock()](boost::system::error_code ec) {
                     if (!ec && pipe_.is_open()) on_readable();
                   });
}

void output_pipe::on_readable() {
  const bool more = read_available(16);
  if (!pipe_.is_open()) return;
  if (more) {
    // Asio watches the pipe edge-triggered: waiting now could miss bytes already there.
    boost::asio::post(pipe_.get_executor(), [this, life = owner_lifetime_.lock()] {
      if (pipe_.is_open()) on_readable();
    });
  } else {
    wait_readable();
  }
}

bool output_pipe::read_available(int max_reads) {
  for (int reads = 0; max_reads == 0 || reads < max_reads; ++reads) {
    const ssize_t got = ::read(pipe_.native_handle(), buffer_.get(), buffer_size);
    if (got > 0) {
      on_data_({buffer_.get(), static_cast<std::size_t>(got)});
      if (static_cast<std::size_t>(got) < buffer_size) return false;  // emptied it
    } else if (got < 0 && errno == EINTR) {
      --reads;
    } else {
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
      boost::system::error_code ignored;
      pipe_.close(ignored);  // the end, or a read error: nothing more will come
      return false;
    }
  }
  return true;
}

void output_pipe::drain_and_close() {
  if (!pipe_.is_open()) return;
  read_available(0);
  boost::system::error_code ignored;
  pipe_.close(ignored);
}

}  // namespace forkipc::detail
