// The two system calls of a channel, shared by the async and the blocking sides: gathered
// writes from a write_queue, and reads straight into a decoder's buffer.
#pragma once

#include <cstddef>
#include <system_error>
#include <vector>

#include "codec/json_lines.hpp"
#include "write_queue.hpp"

namespace forkipc::detail {

/// Writes as much of queue as the socket takes now, in as few sendmsg calls as possible, never
/// blocking and never raising SIGPIPE. Callbacks of messages now complete go to completed.
/// Returns 0 when the queue is empty, EAGAIN when the socket is full, or the errno of a failure
/// (EPIPE, ECONNRESET: the peer is gone).
int send_queued(int fd, write_queue& queue, std::vector<write_queue::callback>& completed);

/// One non-blocking read of up to read_size bytes into decoder. Returns the byte count (less
/// than read_size when the socket had no more), 0 at the end of the stream, or -errno (-EAGAIN
/// when nothing is there yet).
long receive_some(int fd, json_line_decoder& decoder, std::size_t read_size = 64 * 1024);

}  // namespace forkipc::detail
