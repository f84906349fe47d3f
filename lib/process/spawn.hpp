// spawn_child: posix_spawn with the channel on fd 3, and nothing else inherited.
#pragma once

#include <string>
#include <vector>

#include <forkipc/fork_options.hpp>

#include "process/process.hpp"
#include "transport/byte_stream.hpp"  // channel_link
#include "unique_fd.hpp"

namespace forkipc::detail {

/// Where a silent child's stdout and stderr go.
enum class captured_output {
  pipe,       // to pipes whose read ends spawn_child returns (non-blocking, close-on-exec)
  dev_null,   // discarded
};

struct spawned_child {
  process child;
  channel_link channel;   // the parent's end of the socketpair (close-on-exec), and the rings
  unique_fd stdout_pipe;  // read ends, for a silent child with captured_output::pipe
  unique_fd stderr_pipe;
};

/// Starts the child fork() describes. Throws forkipc::error naming the program and the reason
/// when it cannot be started, and std::invalid_argument for contradictory options; either way
/// nothing stays behind.
spawned_child spawn_child(const std::string& module_path, const std::vector<std::string>& args,
                          const fork_options& options, captured_output silent_output);

}  // namespace forkipc::detail
