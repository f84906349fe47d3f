// forkipc::default_context(): an io_context for programs that need only one.
#pragma once

#include <cstddef>

#include <forkipc/detail/export.hpp>
#include <forkipc/detail/asio.hpp>

namespace forkipc {

/// The io_context that fork() and parent() without one use. Created on first use.
FORKIPC_API boost::asio::io_context& default_context();

/// Runs default_context() until it has no more work: every child has closed and the channel to
/// the parent, if taken, is closed. Returns the number of handlers run.
FORKIPC_API std::size_t run();

}  // namespace forkipc
