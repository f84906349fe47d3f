#include "process/zygote_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>

#include "process/child_restrictions.hpp"
#include "process/platform.hpp"
#include "process/zygote_protocol.hpp"
#include "transport/platform.hpp"  // make_socket_pair
#include "transport/poll.hpp"
#include "transport/socket_io.hpp"

namespace forkipc::detail {
namespace {

namespace protocol = zygote_protocol;

constexpr int channel_fd = 3;

// Written whole or not at all, on the zygote's channel (fd, channel_fd but in a spare): the owner
// waits for it. The zygote is single-threaded and the owner reads at once, so a blocking send is
// the plain way; a reply is a few bytes, sent by one sendmsg, which the kernel does not split
// with another writer's (a spare's). A spare's link goes with the first byte.
void answer(const protocol::reply& r, int link = -1, int fd = channel_fd) {
  const std::string bytes = r.encode();
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const iovec iov{const_cast<char*>(bytes.data() + sent), bytes.size() - sent};
    const std::span<const int> fds = sent == 0 && link >= 0 ? std::span<const int>(&link, 1) : std::span<const int>();
    const ssize_t n = send_with_fds(fd, std::span<const iovec>(&iov, 1), fds);
    if (n == -EAGAIN) {
      wait_writable(fd, deadline{});
      continue;
    }
    if (n <= 0) ::_exit(0);  // the owner is gone
    sent += static_cast<std::size_t>(n);
  }
}

void refuse(int err, std::string why) { answer({'E', err, std::move(why)}); }

std::size_t thread_count() {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/task", ec), end; !ec && it != end; it.increment(ec)) ++n;
  return n;
}

// In the new child: its channel on fd 3 (over the link's copy there), its output, its
// restrictions; the environment says what a spawned child's would. On failure it ends at once:
// the owner sees it exit with 127, as a failed exec, and a restriction that failed is written
// on `report` (the link) first, for the owner to throw (the helper program's error pipe, again).
// An empty report says that the child took its request and is restricted.
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
  const restriction_failure failed = restrict_this_process(restrictions);
  while (::send(report.get(), &failed, sizeof failed, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
  if (failed) ::_exit(127);
  ::setenv("NODE_CHANNEL_SERIALIZATION_MODE", mode.c_str(), 1);
  ::setenv("NODE_CHANNEL_FD", "3", 1);
  ::unsetenv(protocol::variable);
}

// Reads one request, and the descriptors that came with it, from a spare's link to its owner,
// waiting as long as it takes. nullopt at the end of the stream.
std::optional<protocol::request> read_request(int fd, received_fds& fds, std::size_t max_fds) {
  char bytes[protocol::request::size];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = receive_with_fds(fd, std::span<char>(bytes + got, sizeof bytes - got), fds, max_fds);
    if (n == -EAGAIN) {
      wait_readable(fd, deadline{});  // no bound: a spare only ever waits
      continue;
    }
    if (n <= 0) return std::nullopt;
    got += static_cast<std::size_t>(n);
  }
  return protocol::request::decode(std::string_view(bytes, sizeof bytes));
}

// Waits until something comes on a spare's link: false if it ends before any byte does.
bool link_used(int link) {
  for (;;) {
    char first;
    const ssize_t n = ::recv(link, &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n >= 0) return n > 0;
    if (errno == EAGAIN)
      wait_readable(link, deadline{});  // no bound: a spare only ever waits
    else if (errno != EINTR)
      return false;
  }
}

// Why the zygote cannot fork a child now, as its answer gives it.
struct refusal {
  int error = 0;
  std::string why;
};

// Forks a spare: a child of the owner, forked ahead of the request it will serve, so that the
// request does not wait for a fork. The owner is sent its pid and its end of a link ('S'), on
// which it later sends the spare the request and its descriptors and reads the spare's
// restriction report; the zygote keeps nothing of it. Returns the refusal, false in the zygote,
// or true in the spare once it has taken its request and become that child.
std::variant<refusal, bool> fork_spare(const std::string& mode, pid_t owner) {
  unique_fd ours, theirs;
  if (const int failed = make_socket_pair(ours, theirs))
    return refusal{failed, std::string("the zygote cannot create a socket pair: ") + std::strerror(failed)};
  const pid_t pid = fork_beside_parent();
  if (pid < 0) return refusal{errno, std::string("the zygote cannot fork: ") + std::strerror(errno)};
  if (pid > 0) {
    answer({'S', pid, {}}, ours.get());
    return false;
  }
  // The spare. The owner's channel is the zygote's alone (the owner sees the zygote end by its
  // end): a copy of the link takes its place on fd 3 (so that no descriptor received lands
  // there) until the child's channel does. The spare keeps another copy of the zygote's channel
  // until its link is used, for its 'O' should the link end first: the owner learns of it even
  // when the zygote dies before its 'S' (reply::orphan). The link's end, when the owner closes
  // it or dies, ends the spare. What else it has of the zygote's closes as serve() returns.
  unique_fd zygote_channel(::fcntl(channel_fd, F_DUPFD_CLOEXEC, 0));
  if (!zygote_channel || ::dup2(theirs.get(), channel_fd) != channel_fd) ::_exit(0);
  ours.reset();
  if (!link_used(theirs.get())) {
    answer({protocol::reply::orphan, ::getpid(), {}}, -1, zygote_channel.get());
    ::_exit(0);
  }
  zygote_channel.reset();
  received_fds fds;
  const auto r = read_request(theirs.get(), fds, 4);
  if (!r || fds.passed.empty()) ::_exit(0);  // let go of (protocol::let_go), or the owner is gone
  become_child(*r, fds, mode, owner, std::move(theirs));
  return true;
}

// Returns only in a forked child.
void serve(const std::string& mode) {
  const pid_t owner = ::getppid();
  for (;;) {
    char asked = 0;
    received_fds none;
    const ssize_t n = receive_with_fds(channel_fd, std::span<char>(&asked, 1), none, 0);
    if (n == -EAGAIN) {
      wait_readable(channel_fd, deadline{});  // the zygote only ever waits for its owner
      continue;
    }
    // The owner closed the channel, or died, or is not forkipc: the zygote ends.
    if (n <= 0 || asked != protocol::spare_request) ::_exit(0);
    if (const std::size_t threads = thread_count(); threads > 1) {
      refuse(EAGAIN, "the zygote has " + std::to_string(threads) +
                         " threads: a fork copies only the thread that forks, and the others' locks and work "
                         "would be lost in the child. Start threads after the program's first call into "
                         "forkipc's child side (has_parent(), parent(), sync::parent, serve())");
      continue;
    }
    auto forked = fork_spare(mode, owner);
    if (auto* failed = std::get_if<refusal>(&forked)) {
      refuse(failed->error, std::move(failed->why));
    } else if (std::get<bool>(forked)) {
      return;  // the spare, now the requested child
    }
  }
}

bool asked_already = false;  // the first call decides; the zygote's children come back here once

}  // namespace

void serve_as_zygote_if_asked() noexcept {
  if (std::exchange(asked_already, true)) return;
  const char* mode = std::getenv(zygote_protocol::variable);
  if (mode == nullptr) return;
  if (std::getenv(zygote_protocol::bind_now_variable) != nullptr) {
    ::unsetenv("LD_BIND_NOW");
    ::unsetenv(zygote_protocol::bind_now_variable);
  }
  try {
    serve(mode);
  } catch (...) {
    ::_exit(127);
  }
}

}  // namespace forkipc::detail
