// platform: descriptors close-on-exec from their creation, where the system can, behind one
// interface with two implementations chosen by Meson's `platform` option:
// transport/linux/platform.cpp (SOCK_CLOEXEC, pipe2, MSG_CMSG_CLOEXEC) and
// transport/posix/platform.cpp (fcntl right after the call that made them).
//
// Why it matters: a descriptor that is not close-on-exec leaks into every program another
// thread starts meanwhile. With the fcntl fallback there is a window of a few instructions in
// which it could; the posix backend's own children never inherit it (spawn closes every
// descriptor but theirs), other programs the process starts might.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include "unique_fd.hpp"

namespace forkipc::detail {

/// A connected pair of Unix stream sockets, both ends close-on-exec. 0, or the errno.
int make_socket_pair(unique_fd& first, unique_fd& second) noexcept;

/// A pipe, both ends close-on-exec. 0, or the errno.
int make_pipe(unique_fd& read_end, unique_fd& write_end) noexcept;

/// recvmsg(2), with every descriptor it brings (SCM_RIGHTS) close-on-exec. Retries EINTR.
ssize_t receive_message(int socket, msghdr& message, int flags) noexcept;

}  // namespace forkipc::detail
