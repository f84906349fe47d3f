// zygote_link: the owner's end of a zygote, and the children it forks there.
#pragma once

#include <string>
#include <vector>

#include <forkipc/fork_options.hpp>

#include "process/process.hpp"
#include "process/spawn.hpp"
#include "transport/poll.hpp"  // deadline
#include "unique_fd.hpp"

namespace forkipc::detail {

/// Starts a program as a zygote (see zygote_server.hpp) and asks it for children. The zygote is
/// this process's child, reaped here; its children are this process's children too (the zygote
/// forks them beside itself), each with its own channel, made here and passed to the zygote.
/// Blocking: fork_child() waits for the zygote's answer, which comes as soon as the child has
/// taken its restrictions (the first one once the program has started up). The zygote forks each
/// child ahead of the request it serves (a spare, announced here by its pid, reaped here if it
/// is never used), so that a request waits for no fork. Not for several threads at once.
class zygote_link {
 public:
  /// How long fork_child() waits for the zygote's answer before it gives up on it.
  static constexpr std::chrono::seconds answer_timeout{30};

  /// Starts the zygote as spawn_child() starts a child: options.serialization and transport are
  /// its children's; its own channel is a plain socket. Throws as spawn_child() does.
  zygote_link(const std::string& module_path, const std::vector<std::string>& args, fork_options options);
  /// Closes the zygote's channel, which ends it, and reaps it (child_policy's grace period).
  ~zygote_link();
  zygote_link(const zygote_link&) = delete;
  zygote_link& operator=(const zygote_link&) = delete;

  /// A new child of the zygote, started as options say (the zygote's own options but for its
  /// silent, limits, no_new_privileges and kill_on_parent_exit, which each child takes from
  /// options). Throws forkipc::error: errc::channel_closed when the zygote has ended, the
  /// zygote's errno and reason when it could not fork (more than one thread, EAGAIN), or
  /// std::errc::timed_out when it did not answer within answer_timeout.
  spawned_child fork_child(const fork_options& options, captured_output silent_output);

  pid_t pid() const noexcept { return zygote_.pid(); }

 private:
  zygote_link(std::string program, spawned_child&& spawned);

  // The zygote's next answer to a request; the spares it announces on the way are noted.
  // Throws as fork_child() does when the zygote has ended or does not answer until then.
  std::string read_answer(const deadline& until);
  void note_spare(const std::string& frame);

  std::string program_;
  unique_fd control_;  // the zygote's channel; shut down first, then the zygote is reaped
  process zygote_;
  bool ended_ = false;        // the zygote ended, or cannot be trusted to answer in turn
  std::string pending_;       // what was read of the zygote's frames and not yet taken
  std::vector<pid_t> spares_;  // children the zygote forked ahead and has not handed out

};

}  // namespace forkipc::detail
