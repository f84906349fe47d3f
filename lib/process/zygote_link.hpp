// zygote_link: the owner's end of a zygote, and the children it forks there.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <forkipc/fork_options.hpp>

#include "process/process.hpp"
#include "process/spawn.hpp"
#include "transport/poll.hpp"  // deadline
#include "transport/socket_io.hpp"  // received_fds
#include "unique_fd.hpp"

namespace forkipc::detail {

namespace zygote_protocol {
struct reply;
}

/// Starts a program as a zygote (see zygote_server.hpp) and has it fork children. The zygote is
/// this process's child, reaped here; its children are this process's children too (the zygote
/// forks them beside itself). Each child is forked ahead of the request it serves (a spare): the
/// zygote sends its pid and the end of a link to it, and fork_child() sends the spare the
/// request (the child's end of a new channel made here, and its restrictions) on that link, reads
/// the spare's report there, and asks the zygote for the next spare, which the zygote forks while
/// this child starts. A request waits for no fork, and the zygote is not on its path. Spares
/// never used are killed and reaped here. Blocking; not for several threads at once.
class zygote_link {
 public:
  /// How long fork_child() waits for the zygote's answer before it gives up on it.
  static constexpr std::chrono::seconds answer_timeout{30};
  /// How long the destructor waits, once the zygote is reaped, for the answer to a spare asked
  /// for: a spare forked as the zygote was killed, unannounced, says so itself.
  static constexpr std::chrono::seconds end_timeout{5};

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
  /// zygote's errno and reason when it could not fork (more than one thread, EAGAIN),
  /// std::errc::timed_out when it did not answer within answer_timeout, or
  /// std::errc::protocol_not_supported when the program was built with a forkipc whose zygote
  /// protocol is another.
  spawned_child fork_child(const fork_options& options, captured_output silent_output);

  pid_t pid() const noexcept { return zygote_.pid(); }

 private:
  zygote_link(std::string program, spawned_child&& spawned);

  // A spare, whose link is always used before it is closed (a request, or let_go): else it
  // would take itself for one the zygote never announced (reply::orphan).
  struct spare {
    pid_t pid = 0;
    unique_fd link;     // to the spare, which waits on it for its request
    bool used = false;  // something was written on link

    spare(pid_t p, unique_fd l) noexcept : pid(p), link(std::move(l)) {}
    spare(spare&&) noexcept = default;
    spare& operator=(spare&&) = delete;
    ~spare() { let_go(); }
    // Writes protocol::let_go on the link if nothing was, and closes it, which ends the spare.
    void let_go() noexcept;
  };
  // Asks the zygote for a spare unless one is asked for already (or the zygote has ended).
  void ask_for_spare();
  // One read of the zygote's answers, without waiting, onto pending_ and received_: as
  // receive_with_fds returns.
  ssize_t receive_answers();
  // The spare the zygote announced in answer ('S'), with the link that came with it.
  spare take_spare(const zygote_protocol::reply& answer);
  // Ends and reaps a spare that will serve no request.
  static void discard(spare unused);
  // Reaps the spare whose 'O' says the zygote died before announcing it, which stands for the
  // answer to the last ask; an 'O' with no ask outstanding cannot be one, and is ignored.
  void reap_orphan(pid_t pid);
  enum class wait_result { readable, ended, timed_out };
  // Waits until the zygote's channel is readable, or until. Should the zygote end first, it
  // waits end_timeout more for what is left to read (a spare's 'O'), then counts the channel as
  // ended: a process the program started before it became a zygote may hold it open, and its
  // end would never show.
  wait_result wait_for_answers(const deadline& until);
  // The spare asked for last (asked for now if it was not), waiting for the zygote's answer
  // until then. Throws as fork_child() does when the zygote has ended, refuses, or does not
  // answer.
  spare next_spare(const deadline& until);

  std::string program_;
  unique_fd control_;  // the zygote's channel; shut down first, then the zygote is reaped
  process zygote_;
  bool ended_ = false;  // the zygote ended, or cannot be trusted to answer in turn
  bool asked_ = false;  // a spare is asked for, and the zygote has not answered yet
  std::optional<deadline> ended_at_;  // once the zygote is seen to end: how long its channel may stay
  std::string pending_;    // what was read of the zygote's answers and not yet taken
  received_fds received_;  // the links that came with them
};

}  // namespace forkipc::detail
