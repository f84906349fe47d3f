#include "process/zygote_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include "process/child_restrictions.hpp"
#include "process/platform.hpp"
#include "process/zygote_protocol.hpp"
#include "transport/platform.hpp"  // make_pipe
#include "transport/poll.hpp"
#include "transport/socket_io.hpp"

namespace forkipc::detail {
namespace {

namespace protocol = zygote_protocol;

constexpr int channel_fd = 3;

// Written whole or not at all: the owner waits for it. The zygote is single-threaded and the
// owner reads at once, so a blocking send is the plain way.
void answer(const protocol::reply& r) {
  const std::string bytes = r.encode();
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(channel_fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(0);  // the owner is gone
    sent += static_cast<std::size_t>(n);
  }
}

void refuse(int err, std::string why) { answer({'E', err, {}, std::move(why)}); }

std::size_t thread_count() {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/task", ec), end; !ec && it != end; it.increment(ec)) ++n;
  return n;
}

// In the new child: its channel on fd 3 (over the zygote's, which it closes), its output, its
// restrictions; the environment says what a spawned child's would. On failure it ends at once:
// the owner sees it exit with 127, as a failed exec, and a restriction that failed is written
// on `report` first, for the zygote to pass on (the helper program's error pipe, again).
void become_child(const protocol::request& r, received_fds& fds, const std::string& mode, pid_t owner,
                  unique_fd report) {
  if (::dup2(fds.passed[0].get(), channel_fd) != channel_fd) ::_exit(127);
  if ((r.flags & protocol::request::silent) != 0 && fds.passed.size() == 4) {
    for (const int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO})
      if (::dup2(fds.passed[static_cast<std::size_t>(fd) + 1].get(), fd) < 0) ::_exit(127);
  }
  fds.passed.clear();  // close-on-exec copies: closed here, the dup2'ed ones stay
  child_restrictions restrictions = r.restrictions;
  if ((r.flags & protocol::request::kill_on_parent_exit) != 0) restrictions.parent = owner;
  if (const restriction_failure failed = restrict_this_process(restrictions)) {
    while (::write(report.get(), &failed, sizeof failed) < 0 && errno == EINTR) {
    }
    ::_exit(127);
  }
  ::setenv("NODE_CHANNEL_SERIALIZATION_MODE", mode.c_str(), 1);
  ::setenv("NODE_CHANNEL_FD", "3", 1);
  ::unsetenv(protocol::variable);
}

// The answer for a forked child: 'P' once it has applied its restrictions (it closes its end of
// the pipe: the read sees the end), 'R' with the failure it wrote before it ended.
protocol::reply restriction_report(const unique_fd& report, pid_t pid) {
  restriction_failure failed;
  ssize_t got;
  while ((got = ::read(report.get(), &failed, sizeof failed)) < 0 && errno == EINTR) {
  }
  if (got == static_cast<ssize_t>(sizeof failed) && failed) return {'R', pid, failed, {}};
  return {'P', pid, {}, {}};
}

// Returns only in a forked child.
void serve(const std::string& mode) {
  const pid_t owner = ::getppid();
  for (;;) {
    char bytes[protocol::request::size];
    received_fds fds;
    std::size_t got = 0;
    while (got < sizeof bytes) {
      const ssize_t n = receive_with_fds(channel_fd, std::span<char>(bytes + got, sizeof bytes - got), fds, 4);
      if (n == -EAGAIN) {
        wait_readable(channel_fd, deadline{});  // the zygote only ever waits for its owner
        continue;
      }
      if (n <= 0) ::_exit(0);  // the owner closed the channel, or died: the zygote ends
      got += static_cast<std::size_t>(n);
    }
    const auto r = protocol::request::decode(std::string_view(bytes, sizeof bytes));
    if (!r || fds.passed.empty()) ::_exit(0);  // not forkipc's owner: nothing to serve
    if (const std::size_t threads = thread_count(); threads > 1) {
      refuse(EAGAIN, "the zygote has " + std::to_string(threads) +
                         " threads: a fork copies only the thread that forks, and the others' locks and work "
                         "would be lost in the child. Start threads after the program's first call into "
                         "forkipc's child side (has_parent(), parent(), sync::parent, serve())");
      continue;
    }
    unique_fd report_read, report_write;
    if (const int failed = make_pipe(report_read, report_write)) {
      refuse(failed, std::string("the zygote cannot create a pipe: ") + std::strerror(failed));
      continue;
    }
    // Beside the zygote, not under it: its owner's child, which the owner then reaps, signals
    // and reads the status of as for any child it spawned.
    const pid_t pid = fork_beside_parent();
    if (pid == 0) {  // the child goes on with the program
      report_read.reset();
      become_child(*r, fds, mode, owner, std::move(report_write));
      return;
    }
    if (pid < 0) {
      refuse(errno, std::string("the zygote cannot fork: ") + std::strerror(errno));
      continue;
    }
    report_write.reset();
    answer(restriction_report(report_read, pid));
  }
}

bool asked_already = false;  // the first call decides; the zygote's children come back here once

}  // namespace

void serve_as_zygote_if_asked() noexcept {
  if (std::exchange(asked_already, true)) return;
  const char* mode = std::getenv(zygote_protocol::variable);
  if (mode == nullptr) return;
  try {
    serve(mode);
  } catch (...) {
    ::_exit(127);
  }
}

}  // namespace forkipc::detail
