// The system calls of a channel's socket, shared by the asynchronous and the blocking channel.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <deque>
#include <span>
#include <vector>

#include "codec/receive_buffer.hpp"
#include "transport/received_descriptors.hpp"
#include "unique_fd.hpp"
#include "transport/write_queue.hpp"

namespace forkipc::detail {

/// The most descriptors one message of the socket's control protocol passes: the kernel's
/// SCM_MAX_FD.
inline constexpr std::size_t max_fds_per_message = 253;

/// One sendmsg of iov without blocking, with fds attached (SCM_RIGHTS) when there are any.
/// Returns the count of bytes written (the descriptors went with the first), or -errno
/// (-EAGAIN when the socket is full; EINTR is retried).
ssize_t send_with_fds(int fd, std::span<const iovec> iov, std::span<const int> fds);

/// What one receive_with_fds brought besides its bytes.
struct received_fds {
  std::vector<unique_fd> passed;  // close-on-exec, in the order sent
  bool truncated = false;         // the kernel closed more than max_fds (MSG_CTRUNC)
};

/// One recvmsg into into without blocking, taking up to max_fds passed descriptors (at most
/// max_fds_per_message). Returns the count of bytes, 0 at the end of the stream, or -errno
/// (-EAGAIN when nothing is there; EINTR is retried).
ssize_t receive_with_fds(int fd, std::span<char> into, received_fds& fds, std::size_t max_fds);

/// Writes what the socket takes without blocking: many queued messages per sendmsg, each
/// message's descriptors with its first byte. Moves the callbacks of the messages written to
/// completed. Returns 0 once the queue is empty, EAGAIN when the socket is full, or the error
/// (EPIPE, ECONNRESET: the peer is gone).
int send_queued(int fd, write_queue& queue, std::vector<write_queue::callback>& completed);

/// One non-blocking read of up to read_size bytes into buffer; descriptors passed with them go
/// to fds (close-on-exec), with the span of the stream they came with. Returns the byte count
/// (less than read_size when the socket had no more), 0 at the end of the stream, or -errno
/// (-EAGAIN when nothing is there yet).
long receive_some(int fd, receive_buffer& buffer, received_descriptors& fds,
                  std::size_t read_size = 64 * 1024);

}  // namespace forkipc::detail
