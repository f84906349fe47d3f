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

// The first whole frame of the zygote's (a zygote_protocol::reply) in buffer, taken from it.
std::optional<std::string> take_frame(std::string& buffer) {
  if (buffer.size() < protocol::reply::header_size) return std::nullopt;
  std::uint32_t length = 0;
  std::memcpy(&length, buffer.data() + 16, 4);
  const std::size_t size = protocol::reply::header_size + length;
  if (buffer.size() < size) return std::nullopt;
  std::string frame = buffer.substr(0, size);
  buffer.erase(0, size);
  return frame;
}

}  // namespace

zygote_link::zygote_link(const std::string& module_path, const std::vector<std::string>& args, fork_options options)
    : zygote_link(module_path, spawn_child(supported(module_path), args, zygote_options(std::move(options)),
                                           captured_output::dev_null)) {}

zygote_link::zygote_link(std::string program, spawned_child&& spawned)
    : program_(std::move(program)), control_(std::move(spawned.channel.socket)), zygote_(std::move(spawned.child)) {}

zygote_link::~zygote_link() {
  ::shutdown(control_.get(), SHUT_WR);  // the zygote reads the end of its channel, and ends
  child_policy::let_go(zygote_);
  std::error_code ignored;
  zygote_.send_signal(SIGKILL, ignored);
  zygote_.wait();
  // Everything the zygote wrote is in the socket now: the last spares it announced.
  for (char bytes[512];;) {
    received_fds none;
    const ssize_t got = receive_with_fds(control_.get(), bytes, none, 0);
    if (got <= 0) break;
    pending_.append(bytes, static_cast<std::size_t>(got));
  }
  while (const auto frame = take_frame(pending_))
    if ((*frame)[0] == 'S') note_spare(*frame);
  // Forked ahead and never used: this process' children, which nobody else reaps.
  for (const pid_t spare : spares_) process unused(spare, unique_fd{});  // its destructor: SIGKILL, reap
}

void zygote_link::note_spare(const std::string& frame) {
  std::int32_t pid = 0;
  std::memcpy(&pid, frame.data() + 4, 4);
  spares_.push_back(pid);
}

std::string zygote_link::read_answer(const deadline& until) {
  for (;;) {
    while (const auto frame = take_frame(pending_)) {
      if ((*frame)[0] != 'S') return *frame;
      note_spare(*frame);
    }
    char bytes[512];
    received_fds none;
    const ssize_t got = receive_with_fds(control_.get(), bytes, none, 0);
    if (got > 0) {
      pending_.append(bytes, static_cast<std::size_t>(got));
      continue;
    }
    if (got != -EAGAIN) {
      ended_ = true;
      throw_ended(program_);
    }
    if (!wait_readable(control_.get(), until)) {
      // An answer that comes later would be taken for the next request's: the zygote is no use now.
      ended_ = true;
      throw error(std::make_error_code(std::errc::timed_out),
                  "the zygote of \"" + program_ + "\" did not answer within " + std::to_string(answer_timeout.count()) +
                      " s: does the program call into forkipc's child side (has_parent(), parent(), sync::parent, serve())?");
    }
  }
}

spawned_child zygote_link::fork_child(const fork_options& options, captured_output silent_output) {
  if (ended_) throw_ended(program_);

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

  const deadline until(answer_timeout);
  const std::string request = request_for(options).encode();
  const iovec iov{const_cast<char*>(request.data()), request.size()};
  for (;;) {
    const ssize_t sent = send_with_fds(control_.get(), std::span<const iovec>(&iov, 1), fds);
    if (sent == static_cast<ssize_t>(request.size())) break;
    if (sent != -EAGAIN) {
      ended_ = true;
      throw_ended(program_);
    }
    if (!wait_writable(control_.get(), until))
      throw error(std::make_error_code(std::errc::timed_out), "the zygote of \"" + program_ + "\" does not read its requests");
  }

  const std::string answer = read_answer(until);
  std::int32_t value = 0;
  std::memcpy(&value, answer.data() + 4, 4);
  if (answer[0] == 'R' || answer[0] == 'P') std::erase(spares_, value);  // now the caller's
  if (answer[0] == 'R') {
    restriction_failure failed;
    std::int32_t step = 0;
    std::memcpy(&failed.error, answer.data() + 8, 4);
    std::memcpy(&step, answer.data() + 12, 4);
    failed.step = static_cast<restriction_step>(step);
    while (::waitpid(value, nullptr, 0) < 0 && errno == EINTR) {  // it has ended, or is about to
    }
    throw error(std::error_code(failed.error, std::system_category()),
                "cannot fork a child of \"" + program_ + "\" from its zygote: " + describe_failure(failed, options));
  }
  if (answer[0] != 'P') {
    throw error(std::error_code(value, std::system_category()),
                "the zygote of \"" + program_ + "\" cannot fork: " + answer.substr(protocol::reply::header_size));
  }
  const pid_t pid = value;
  // A child of this process (the zygote forked it beside itself): nobody else can reap it, so
  // its pid cannot be reused before it is watched.
  std::error_code ec;
  unique_fd exit_descriptor = open_exit_descriptor(pid, ec);
  if (ec) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw error(ec, "cannot watch the child " + std::to_string(pid) + " of the zygote of \"" + program_ + "\" (pidfd_open)");
  }
  return {process(pid, std::move(exit_descriptor)), std::move(channel.parent), std::move(stdio.stdout_read),
          std::move(stdio.stderr_read), std::move(stdio.stdin_write)};
}

}  // namespace forkipc::detail
