// spawn_child: posix_spawn with the channel on fd 3, and nothing else inherited.
#pragma once

#include <string>
#include <vector>

#include <forkipc/fork_options.hpp>

#include "process/child_restrictions.hpp"
#include "process/process.hpp"
#include "transport/byte_stream.hpp"  // channel_link
#include "unique_fd.hpp"

namespace forkipc::detail {

/// Where a silent child's stdin, stdout and stderr lead.
enum class captured_output {
  pipe,       // to pipes whose parent's ends spawn_child returns (non-blocking, close-on-exec)
  dev_null,   // /dev/null: nothing to read, output discarded
};

struct spawned_child {
  process child;
  channel_link channel;   // the parent's end of the socketpair (close-on-exec), and the rings
  unique_fd stdout_pipe;  // read ends, for a silent child with captured_output::pipe
  unique_fd stderr_pipe;
  unique_fd stdin_pipe;   // the write end, likewise
};

/// A new child's channel: the parent's end (close-on-exec), with the rings on the shared-memory
/// transport (already passed on the socket, first), and the child's end, moved above 0-2.
struct channel_ends {
  channel_link parent;
  unique_fd child;
};

/// Throws forkipc::error naming program when the socketpair or the shared memory cannot be had.
channel_ends make_channel(const fork_options& options, const std::string& program);

/// What options ask of the child before its program runs, applied by the helper program or a
/// zygote; parent: the process whose death kills it with kill_on_parent_exit.
child_restrictions restrictions_of(const fork_options& options, pid_t parent);

/// What failed in a child started with options, and what the user can do about it, for an
/// error's text: "setuid(65534) failed in the child (changing ... needs root ...)".
std::string describe_failure(const restriction_failure& failure, const fork_options& options);

/// A silent child's stdin, stdout and stderr: the parent's ends (non-blocking, close-on-exec),
/// and the child's (moved above 0-2). Throws forkipc::error.
struct stdio_pipes {
  unique_fd stdin_read, stdin_write, stdout_read, stdout_write, stderr_read, stderr_write;
};
stdio_pipes make_stdio_pipes();

/// Starts the child fork() describes. Throws forkipc::error naming the program and the reason
/// when it cannot be started, and std::invalid_argument for contradictory options; either way
/// nothing stays behind.
spawned_child spawn_child(const std::string& module_path, const std::vector<std::string>& args,
                          const fork_options& options, captured_output silent_output);

}  // namespace forkipc::detail
