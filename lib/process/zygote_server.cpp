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
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "process/child_restrictions.hpp"
#include "process/platform.hpp"
#include "process/zygote_protocol.hpp"
#include "transport/platform.hpp"  // make_pipe, make_socket_pair
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

// Reads one request, and the descriptors that came with it, from fd (the owner's channel, or a
// spare's link to the zygote), waiting as long as it takes. nullopt at the end of the stream.
std::optional<protocol::request> read_request(int fd, received_fds& fds, std::size_t max_fds) {
  char bytes[protocol::request::size];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = receive_with_fds(fd, std::span<char>(bytes + got, sizeof bytes - got), fds, max_fds);
    if (n == -EAGAIN) {
      wait_readable(fd, deadline{});  // no bound: the zygote and its spare only ever wait
      continue;
    }
    if (n <= 0) return std::nullopt;
    got += static_cast<std::size_t>(n);
  }
  return protocol::request::decode(std::string_view(bytes, sizeof bytes));
}

// A child forked ahead of the next request, so that the request does not wait for the fork: it
// waits on its end of `link` for the request, the descriptors its owner sent, and the pipe of
// its restriction report. Like every child of the zygote it is the owner's child, which is told
// its pid ('S') and reaps it should it never be used. pid 0: this process is the spare, and has
// become the requested child.
struct spare {
  pid_t pid = -1;
  unique_fd link;  // the zygote's end
};

// Why the zygote cannot fork a child now, as its answer gives it.
struct refusal {
  int error = 0;
  std::string why;
};

std::variant<refusal, spare> fork_spare(const std::string& mode, pid_t owner) {
  unique_fd ours, theirs;
  if (const int failed = make_socket_pair(ours, theirs))
    return refusal{failed, std::string("the zygote cannot create a socket pair: ") + std::strerror(failed)};
  const pid_t pid = fork_beside_parent();
  if (pid < 0) return refusal{errno, std::string("the zygote cannot fork: ") + std::strerror(errno)};
  if (pid > 0) {
    answer({'S', pid, {}, {}});
    return spare{pid, std::move(ours)};
  }
  // The spare: the owner's channel is the zygote's alone (the owner sees the zygote end by its
  // end), so the link takes its place on fd 3 (and keeps the descriptors that come from being
  // given that number) until the child's channel does. The request comes on the link, whose
  // end says that the zygote has ended. What else the spare has of the zygote's (its copies of
  // the last request's descriptors) closes as serve() returns.
  if (::dup2(theirs.get(), channel_fd) != channel_fd) ::_exit(0);
  ours.reset();
  map_program_code();  // while it waits: faults the child would otherwise take on its first steps
  received_fds fds;
  const auto r = read_request(channel_fd, fds, 5);
  if (!r || fds.passed.size() < 2) ::_exit(0);
  unique_fd report = std::move(fds.passed.back());
  fds.passed.pop_back();
  become_child(*r, fds, mode, owner, std::move(report));
  return spare{0, {}};
}

// Hands the request and its descriptors to the spare, with the write end of a new report pipe.
// Returns the answer for the owner, or nothing when the spare is gone (killed while it waited).
std::optional<protocol::reply> hand_over(spare& to, const protocol::request& r, received_fds& fds) {
  unique_fd report_read, report_write;
  if (const int failed = make_pipe(report_read, report_write))
    return protocol::reply{'E', failed, {}, std::string("the zygote cannot create a pipe: ") + std::strerror(failed)};
  std::vector<int> handed;
  for (const unique_fd& fd : fds.passed) handed.push_back(fd.get());
  handed.push_back(report_write.get());
  const std::string request = r.encode();
  const iovec iov{const_cast<char*>(request.data()), request.size()};
  if (send_with_fds(to.link.get(), std::span<const iovec>(&iov, 1), handed) != static_cast<ssize_t>(request.size()))
    return std::nullopt;
  report_write.reset();  // the spare's copy is the only one: it closes it once restricted
  return restriction_report(report_read, to.pid);
}

// Returns only in a forked child.
void serve(const std::string& mode) {
  const pid_t owner = ::getppid();
  std::optional<spare> next;
  for (;;) {
    received_fds fds;
    const auto r = read_request(channel_fd, fds, 4);
    if (!r || fds.passed.empty()) ::_exit(0);  // the owner closed the channel, or died, or is not forkipc
    if (const std::size_t threads = thread_count(); threads > 1) {
      refuse(EAGAIN, "the zygote has " + std::to_string(threads) +
                         " threads: a fork copies only the thread that forks, and the others' locks and work "
                         "would be lost in the child. Start threads after the program's first call into "
                         "forkipc's child side (has_parent(), parent(), sync::parent, serve())");
      continue;
    }
    // The spare forked after the last request, or one forked now (the first request, or that
    // fork failed). A spare that cannot take the request (it was killed) is its owner's to reap,
    // who knows its pid; one more is forked for the request.
    std::optional<protocol::reply> reply;
    for (int attempt = 0; attempt < 2 && !reply; ++attempt) {
      if (!next) {
        auto forked = fork_spare(mode, owner);
        if (auto* failed = std::get_if<refusal>(&forked)) {
          reply = protocol::reply{'E', failed->error, {}, std::move(failed->why)};
          break;
        }
        if (std::get<spare>(forked).pid == 0) return;  // the spare, with its request
        next = std::move(std::get<spare>(forked));
      }
      reply = hand_over(*next, *r, fds);
      next.reset();
    }
    answer(reply ? *reply : protocol::reply{'E', ECHILD, {}, "the zygote's children end before they take a request"});
    fds.passed.clear();
    // The next request's child, forked while this one starts. Should the fork fail, the next
    // request forks (and says why it cannot).
    auto forked = fork_spare(mode, owner);
    if (auto* ready = std::get_if<spare>(&forked)) {
      if (ready->pid == 0) return;
      next = std::move(*ready);
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
