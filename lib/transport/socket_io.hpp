// The system calls of a channel's socket, shared by the asynchronous and the blocking channel.
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "codec/receive_buffer.hpp"
#include "transport/received_descriptors.hpp"
#include "unique_fd.hpp"
#include "write_queue.hpp"

namespace forkipc::detail {

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
