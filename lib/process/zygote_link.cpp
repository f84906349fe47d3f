#include "process/zygote_link.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include <forkipc/error.hpp>

#include "process/child_policy.hpp"
#include "process/inherited_channel.hpp"  // channel_mode_name
#include "process/platform.hpp"
#include "process/zygote_protocol.hpp"
#include "transport/poll.hpp"
#include "transport/socket_io.hpp"

extern char** environ;

namespace forkipc::detail {
namespace {

namespace protocol = zygote_protocol;

// The zygote's own start: its channel a plain socket whatever its children's transport, and the
// children's mode in FORKIPC_ZYGOTE; no timeout (that is each child's).
fork_options zygote_options(fork_options options) {
  if (!options.extra_fds.empty())
    throw error(std::make_error_code(std::errc::not_supported),
                "a zygote's children cannot be given fork_options::extra_fds (they are forked, not started "
                "with descriptors of their own): use fork() for them");
  std::map<std::string, std::string> env;
  if (options.env) {
    env = *options.env;
  } else {
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
      const std::string_view e(*entry);
      const auto equals = e.find('=');
      if (equals != std::string_view::npos) env.emplace(std::string(e.substr(0, equals)), std::string(e.substr(equals + 1)));
    }
  }
  env[protocol::variable] = channel_mode_name({options.serialization, options.transport});
  if (env.emplace("LD_BIND_NOW", "1").second) env[protocol::bind_now_variable] = "1";
  options.env = std::move(env);
  options.transport = transport::socket;
  options.timeout = std::chrono::milliseconds(0);
  options.silent = false;
  options.limits = {};  // each child's, not the zygote's: its start-up may need more
  // Each child's too: the zygote keeps its owner's user, to give each child what it asks.
  options.uid.reset();
  options.gid.reset();
  options.detached = false;
  return options;
}

[[noreturn]] void throw_ended(const std::string& program) {
  throw error(errc::channel_closed, "the zygote of \"" + program + "\" has ended: start a new forkipc::zygote");
}

protocol::request request_for(const fork_options& options) {
  protocol::request r;
  if (options.silent) r.flags |= protocol::request::silent;
  if (options.kill_on_parent_exit) r.flags |= protocol::request::kill_on_parent_exit;
  r.restrictions = restrictions_of(options, 0);  // the zygote knows the parent
  return r;
}

// Checked before the zygote is started: without it, there is nothing to start.
const std::string& supported(const std::string& module_path) {
  if (!spawn_can.fork_beside_parent)
    throw error(std::make_error_code(std::errc::not_supported),
                "cannot start a zygote of \"" + module_path + "\": forkipc's " + platform_name +
                    " backend has no way to fork a child for another process (Linux's CLONE_PARENT); use fork()");
  return module_path;
}

// The first whole reply of the zygote's in buffer, taken from it.
std::optional<protocol::reply> take_reply(std::string& buffer) {
  if (buffer.size() < protocol::reply::header_size) return std::nullopt;
  const std::size_t size = protocol::reply::header_size + protocol::reply::text_length(buffer);
  if (buffer.size() < size) return std::nullopt;
  protocol::reply taken = protocol::reply::decode(std::string_view(buffer).substr(0, size));
  buffer.erase(0, size);
  return taken;
}

}  // namespace

zygote_link::zygote_link(const std::string& module_path, const std::vector<std::string>& args, fork_options options)
    : zygote_link(module_path, spawn_child(supported(module_path), args, zygote_options(std::move(options)),
                                           captured_output::dev_null)) {}

zygote_link::zygote_link(std::string program, spawned_child&& spawned)
    : program_(std::move(program)), control_(std::move(spawned.channel.socket)), zygote_(std::move(spawned.child)) {
  ask_for_spare();  // the first child's, forked as soon as the program's start-up is done
}

zygote_link::~zygote_link() {
  ::shutdown(control_.get(), SHUT_WR);  // the zygote reads the end of its channel, and ends
  child_policy::let_go(zygote_);
  std::error_code ignored;
  zygote_.send_signal(SIGKILL, ignored);
  zygote_.wait();
  // Everything the zygote wrote is in the socket now: the last spare it forked, perhaps. Forked
  // ahead and never used, it is a child of this process, which nobody else reaps: the end of its
  // link ends it; process' destructor makes sure (SIGKILL) and reaps. When the zygote died with a
  // spare asked for and not answered, it may have forked it: that spare says so itself ('O') as
  // its link ends, or, if there is none, the channel ends.
  const deadline until(end_timeout);
  for (;;) {
    while (const auto answer = take_reply(pending_)) {
      if (answer->kind == protocol::reply::orphan) {
        reap_orphan(answer->value);
        continue;
      }
      if (answer->kind == 'S') discard(take_spare(*answer));
      asked_ = false;
    }
    const ssize_t got = receive_answers();
    if (got > 0) continue;
    if (got != -EAGAIN || !asked_ || !wait_readable(control_.get(), until)) break;
  }
}

ssize_t zygote_link::receive_answers() {
  char bytes[256];
  const ssize_t got = receive_with_fds(control_.get(), bytes, received_, max_fds_per_message);
  if (got > 0) pending_.append(bytes, static_cast<std::size_t>(got));
  return got;
}

void zygote_link::ask_for_spare() {
  if (asked_ || ended_) return;
  const char request = protocol::spare_request;
  // One byte on an empty socket (the zygote answers each before the next is sent): it fits.
  if (::send(control_.get(), &request, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
    asked_ = true;
  else
    ended_ = true;
}

zygote_link::spare zygote_link::take_spare(const protocol::reply& answer) {
  spare taken(answer.value, {});
  if (!received_.passed.empty()) {
    taken.link = std::move(received_.passed.front());
    received_.passed.erase(received_.passed.begin());
  }
  return taken;
}

void zygote_link::spare::let_go() noexcept {
  if (!link) return;
  if (!used) ::send(link.get(), &protocol::let_go, 1, MSG_DONTWAIT | MSG_NOSIGNAL);  // fails once it has ended: no matter
  link.reset();
}

void zygote_link::discard(spare unused) {
  const pid_t pid = unused.pid;
  unused.let_go();
  process ended(pid, unique_fd{});  // SIGKILL, should it not have ended, and reaped
}

void zygote_link::reap_orphan(pid_t pid) {
  if (!asked_) return;
  asked_ = false;
  // Never announced, so never reaped: a child of this process still, its pid its own.
  process ended(pid, unique_fd{});
}

zygote_link::wait_result zygote_link::wait_for_answers(const deadline& until) {
  if (!ended_at_) {
    // Without pidfds, -1: the channel's end alone tells.
    const auto ready = wait_readable_either(control_.get(), zygote_.exit_descriptor(), until);
    if (!ready) return wait_result::timed_out;
    if (*ready == 0) return wait_result::readable;
    ended_at_ = deadline(end_timeout);
  }
  if (wait_readable(control_.get(), deadline::earliest(until, *ended_at_))) return wait_result::readable;
  return ended_at_->passed() ? wait_result::ended : wait_result::timed_out;
}

zygote_link::spare zygote_link::next_spare(const deadline& until) {
  if (ended_) throw_ended(program_);
  ask_for_spare();
  std::optional<protocol::reply> answer;
  for (;;) {
    answer = take_reply(pending_);
    if (answer && answer->protocol == protocol::version && answer->kind == protocol::reply::orphan) {
      // The zygote died between a fork and its answer, and the spare says so: it is reaped, and
      // the end of the zygote's channel is read next.
      reap_orphan(answer->value);
      continue;
    }
    if (answer) break;
    const ssize_t got = receive_answers();
    if (got > 0) continue;
    if (got != -EAGAIN) {
      ended_ = true;
      throw_ended(program_);
    }
    const auto waited = wait_for_answers(until);
    if (waited == wait_result::ended) {
      ended_ = true;
      throw_ended(program_);
    }
    if (waited == wait_result::timed_out) {
      // An answer that comes later would be taken for the next request's: the zygote is no use now.
      ended_ = true;
      throw error(std::make_error_code(std::errc::timed_out),
                  "the zygote of \"" + program_ + "\" did not answer within " + std::to_string(answer_timeout.count()) +
                      " s: does the program call into forkipc's child side (has_parent(), parent(), sync::parent, serve())?");
    }
  }
  asked_ = false;
  if (answer->protocol != protocol::version) {
    // The header is the same in every version; the rest, the request included, may not be.
    ended_ = true;
    if (answer->kind == 'S') discard(take_spare(*answer));
    throw error(std::make_error_code(std::errc::protocol_not_supported),
                "the zygote of \"" + program_ + "\" speaks version " + std::to_string(answer->protocol) +
                    " of forkipc's zygote protocol, and this program version " + std::to_string(protocol::version) +
                    ": the two were built with different forkipc versions; build both with the same one");
  }
  if (answer->kind == 'S') return take_spare(*answer);
  throw error(std::error_code(answer->value, std::system_category()),
              "the zygote of \"" + program_ + "\" cannot fork: " + answer->why);
}

spawned_child zygote_link::fork_child(const fork_options& options, captured_output silent_output) {
  const deadline until(answer_timeout);
  channel_ends channel = make_channel(options, program_);
  stdio_pipes stdio;
  unique_fd dev_null;
  std::vector<int> fds{channel.child.get()};  // then a silent child's stdin, stdout, stderr
  if (options.silent && silent_output == captured_output::pipe) {
    stdio = make_stdio_pipes();
    fds.insert(fds.end(), {stdio.stdin_read.get(), stdio.stdout_write.get(), stdio.stderr_write.get()});
  } else if (options.silent) {
    dev_null = unique_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!dev_null) throw error(std::error_code(errno, std::system_category()), "cannot open /dev/null for a silent child");
    fds.insert(fds.end(), {dev_null.get(), dev_null.get(), dev_null.get()});
  }
  const std::string request = request_for(options).encode();
  const iovec iov{const_cast<char*>(request.data()), request.size()};

  // A spare that ended before it took the request (killed while it waited) is reaped, and the
  // next one takes it.
  for (int attempt = 1;; ++attempt) {
    spare child = next_spare(until);
    // A child of this process (the zygote forked it beside itself): nobody else can reap it, so
    // its pid cannot be reused before it is watched. Sent SIGKILL and reaped on any failure.
    std::error_code ec;
    unique_fd exit_descriptor = open_exit_descriptor(child.pid, ec);
    if (ec) {
      const pid_t pid = child.pid;
      discard(std::move(child));
      throw error(ec, "cannot watch the child " + std::to_string(pid) + " of the zygote of \"" + program_ + "\" (pidfd_open)");
    }
    process forked(child.pid, std::move(exit_descriptor));
    ask_for_spare();  // the next one, forked while this one starts

    // The request, then the spare's report on the same link: a restriction_failure, empty once
    // the child is restricted.
    restriction_failure report{};
    ssize_t got = send_with_fds(child.link.get(), std::span<const iovec>(&iov, 1), fds);
    child.used = got > 0;
    if (got == static_cast<ssize_t>(request.size())) {
      while ((got = ::recv(child.link.get(), &report, sizeof report, MSG_DONTWAIT)) < 0 &&
             (errno == EAGAIN || errno == EINTR)) {
        if (!wait_readable(child.link.get(), until))
          throw error(std::make_error_code(std::errc::timed_out),
                      "the child forked by the zygote of \"" + program_ + "\" did not take its request within " +
                          std::to_string(answer_timeout.count()) + " s");
      }
    }
    if (got != static_cast<ssize_t>(sizeof report)) {
      if (attempt < 2) continue;
      throw error(std::make_error_code(std::errc::no_child_process),
                  "the children forked ahead by the zygote of \"" + program_ + "\" end before they take a request");
    }
    if (report) {
      forked.wait();  // it has ended, or is about to
      throw error(std::error_code(report.error, std::system_category()),
                  "cannot fork a child of \"" + program_ + "\" from its zygote: " + describe_failure(report, options));
    }
    return {std::move(forked), std::move(channel.parent), std::move(stdio.stdout_read), std::move(stdio.stderr_read),
            std::move(stdio.stdin_write)};
  }
}

}  // namespace forkipc::detail
