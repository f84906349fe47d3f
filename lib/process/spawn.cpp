#include "process/spawn.hpp"

#include "process/inherited_channel.hpp"  // channel_mode_name
#include "process/platform.hpp"
#include "transport/platform.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include <forkipc/error.hpp>

extern char** environ;

namespace forkipc::detail {
namespace {

namespace fs = std::filesystem;

constexpr int channel_fd = 3;  // where Node's fork() puts it, and where Node looks first
constexpr std::string_view channel_fd_variable = "NODE_CHANNEL_FD";
constexpr std::string_view serialization_variable = "NODE_CHANNEL_SERIALIZATION_MODE";

[[noreturn]] void throw_system_error(int err, const std::string& what) {
  throw error(std::error_code(err, std::system_category()), what);
}

std::string quoted(const fs::path& path) { return "\"" + path.string() + "\""; }

// The descriptors the child gets are first moved to 10 and above (close-on-exec), so that none
// of them sits on 0-3, where the file actions put the child's own: a parent started with
// stdin closed gets its socketpair on fd 0, and dup2(fd, fd) would not clear close-on-exec.
unique_fd move_above_stdio(unique_fd fd) {
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 10);
  // EINVAL: RLIMIT_NOFILE is 10 or less, so that no descriptor can be 10 or more. That is the
  // limit on open files, as the user should hear it, not an invalid argument.
  if (moved < 0) throw_system_error(errno == EINVAL ? EMFILE : errno, "cannot duplicate a descriptor for the child");
  return unique_fd(moved);
}

struct pipe_ends {
  unique_fd read, write;
};

pipe_ends new_pipe(const std::string& what) {
  pipe_ends ends;
  if (const int failed = make_pipe(ends.read, ends.write)) throw_system_error(failed, "cannot create a pipe for " + what);
  return ends;
}

// A pipe from a silent child's stdout or stderr (parent_reads), or a socket to its stdin, as
// libuv makes for Node: a write to a socket can be kept from raising SIGPIPE in the parent when
// the child has gone (MSG_NOSIGNAL), a write to a pipe cannot.
pipe_ends make_stdio_pipe(bool parent_reads) {
  pipe_ends ends;
  if (parent_reads) {
    ends = new_pipe("the child's output");
  } else if (const int failed = make_socket_pair(ends.write, ends.read)) {
    throw_system_error(failed, "cannot create a socket for the child's input");
  }
  unique_fd& parent = parent_reads ? ends.read : ends.write;
  unique_fd& child = parent_reads ? ends.write : ends.read;
  // Non-blocking on the parent's end only: the child's stays an ordinary blocking pipe.
  ::fcntl(parent.get(), F_SETFL, ::fcntl(parent.get(), F_GETFL) | O_NONBLOCK);
  child = move_above_stdio(std::move(child));
  return ends;
}

class file_actions {
 public:
  file_actions() { check(::posix_spawn_file_actions_init(&actions_)); }
  ~file_actions() { ::posix_spawn_file_actions_destroy(&actions_); }
  file_actions(const file_actions&) = delete;
  file_actions& operator=(const file_actions&) = delete;

  void dup2(int fd, int target) { check(::posix_spawn_file_actions_adddup2(&actions_, fd, target)); }
  void close(int target) { check(::posix_spawn_file_actions_addclose(&actions_, target)); }
  void open(int target, const char* path, int flags) {
    check(::posix_spawn_file_actions_addopen(&actions_, target, path, flags, 0));
  }
  posix_spawn_file_actions_t& native() noexcept { return actions_; }
  const posix_spawn_file_actions_t* get() const noexcept { return &actions_; }

 private:
  static void check(int result) {
    if (result != 0) throw_system_error(result, "cannot prepare the child's descriptors");
  }
  posix_spawn_file_actions_t actions_;
};

// The child starts with every signal at its default action and none blocked, whatever the
// parent did with its own (a server that ignores SIGPIPE, a thread that blocks SIGTERM...); in a
// new session when asked and posix_spawn can (else the helper calls setsid).
class default_signals {
 public:
  explicit default_signals(bool new_session) {
    ::posix_spawnattr_init(&attributes_);
    sigset_t all, none;
    ::sigfillset(&all);
    ::sigemptyset(&none);
    ::posix_spawnattr_setsigdefault(&attributes_, &all);
    ::posix_spawnattr_setsigmask(&attributes_, &none);
    ::posix_spawnattr_setflags(&attributes_, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    if (new_session) spawn_new_session(attributes_);
  }
  ~default_signals() { ::posix_spawnattr_destroy(&attributes_); }
  default_signals(const default_signals&) = delete;
  default_signals& operator=(const default_signals&) = delete;
  const posix_spawnattr_t* get() const noexcept { return &attributes_; }

 private:
  posix_spawnattr_t attributes_;
};

// What posix_spawn cannot do in the child here (close descriptors, enter a directory, a death
// signal, limits, no new privileges) is done by the helper that then execs the program (see
// exec_helper.cpp); it reports a failed step on a pipe, above the child's own descriptors.
int exec_error_fd(const fork_options& options) { return channel_fd + 1 + static_cast<int>(options.extra_fds.size()); }

fs::path exec_helper() {
  // A set-user-ID program never takes the helper's location from its caller.
  const char* dir = trusted_getenv("FORKIPC_LIBEXECDIR");
  return fs::path(dir != nullptr && *dir != '\0' ? dir : FORKIPC_LIBEXECDIR) / "forkipc-exec";
}

// The helper's settings (one argument each) for what options ask of the child and posix_spawn
// cannot do on this system; none when the program can be spawned directly.
std::vector<std::string> exec_helper_settings(const fork_options& options, const fs::path& base) {
  const child_restrictions r = restrictions_of(options, ::getpid());
  std::vector<std::string> settings;
  if (options.cwd && !spawn_can.change_directory) settings.push_back("cd=" + base.string());
  if (r.new_session && !spawn_can.new_session) settings.push_back("setsid");
  const auto limit = [&](const char* name, std::uint64_t value) {
    if (value != child_restrictions::unlimited) settings.push_back(name + std::to_string(value));
  };
  limit("as=", r.memory_bytes);
  limit("cpu=", r.cpu_seconds);
  limit("nofile=", r.open_files);
  if (r.change_group) settings.push_back("gid=" + std::to_string(r.group));
  if (r.change_user) settings.push_back("uid=" + std::to_string(r.user));
  if (r.no_new_privileges) settings.push_back("nnp");
  if (r.parent != 0) settings.push_back("parent=" + std::to_string(r.parent));
  if (!spawn_can.close_from)
    settings.insert(settings.begin(), "close_from=" + std::to_string(exec_error_fd(options) + 1));
  return settings;
}

// What the helper wrote after a failed setting or exec (see exec_helper.cpp), or nothing once
// the program runs.
restriction_failure read_exec_error(const unique_fd& pipe) {
  std::int32_t report[2] = {0, 0};
  ssize_t got;
  while ((got = ::read(pipe.get(), report, sizeof report)) < 0 && errno == EINTR) {
  }
  if (got != static_cast<ssize_t>(sizeof report)) return {};
  return {report[0], static_cast<restriction_step>(report[1])};
}

bool is_channel_variable(std::string_view entry) {
  const auto name = entry.substr(0, entry.find('='));
  return name == channel_fd_variable || name == serialization_variable;
}

std::vector<std::string> child_environment(const fork_options& options) {
  std::vector<std::string> env;
  if (options.env) {
    for (const auto& [name, value] : *options.env) env.push_back(name + "=" + value);
  } else {
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) env.emplace_back(*entry);
  }
  std::erase_if(env, is_channel_variable);
  env.push_back(std::string(channel_fd_variable) + "=" + std::to_string(channel_fd));
  env.push_back(std::string(serialization_variable) + "=" +
                channel_mode_name({options.serialization, options.transport}));
  return env;
}

std::string_view path_variable(const std::vector<std::string>& env) {
  for (std::string_view entry : env)
    if (entry.starts_with("PATH=")) return entry.substr(5);
  return "/usr/local/bin:/usr/bin:/bin";  // what execvp uses without PATH
}

// The executable named `name` in the directories of `search_path`, as execvp would find it.
fs::path find_in_path(const fs::path& name, std::string_view search_path, const fs::path& base) {
  while (true) {
    const auto colon = search_path.find(':');
    const fs::path dir(std::string(search_path.substr(0, colon)));
    const fs::path candidate = (dir.empty() ? base : dir.is_absolute() ? dir : base / dir) / name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (colon == std::string_view::npos) return {};
    search_path.remove_prefix(colon + 1);
  }
}

// What the user can do about a step that failed with err (none: the exec).
std::string remedy(restriction_step step, int err, const fork_options& options) {
  if ((step == restriction_step::user || step == restriction_step::group) && err == EPERM)
    return " (changing the child's user or group needs root, or CAP_SETUID and CAP_SETGID)";
  if (step == restriction_step::none && err == EACCES && (options.uid || options.gid))
    return " as user " + (options.uid ? std::to_string(*options.uid) : std::string("(unchanged)")) + ", group " +
           (options.gid ? std::to_string(*options.gid) : std::string("(unchanged)")) +
           ": that user must be able to search every directory on the program's path and execute it";
  return {};
}

// Why the working directory cannot be entered, or 0 when it can.
int working_directory_problem(const fs::path& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return errno;
  if (!S_ISDIR(st.st_mode)) return ENOTDIR;
  if (::access(dir.c_str(), X_OK) != 0) return errno;
  return 0;
}

}  // namespace

spawned_child spawn_child(const std::string& module_path, const std::vector<std::string>& args,
                          const fork_options& options, captured_output silent_output) {
  if (options.serialization != serialization::json && options.serialization != serialization::binary &&
      options.serialization != serialization::advanced)
    throw std::invalid_argument("forkipc: unknown serialization in fork_options");
  if (options.transport != transport::socket && options.transport != transport::shared_memory)
    throw std::invalid_argument("forkipc: unknown transport in fork_options");
  if (!options.exec_path && !options.exec_args.empty())
    throw std::invalid_argument("forkipc: fork_options::exec_args needs exec_path (the program "
                                "they are arguments of)");
  if (options.kill_on_parent_exit && !spawn_can.parent_death_signal)
    throw error(std::make_error_code(std::errc::not_supported),
                std::string("cannot start \"") + module_path + "\" with kill_on_parent_exit: forkipc's " +
                    platform_name + " backend has no way to learn of a parent's death (Linux's PR_SET_PDEATHSIG)");
  if (options.no_new_privileges && !spawn_can.no_new_privileges)
    throw error(std::make_error_code(std::errc::not_supported),
                std::string("cannot start \"") + module_path + "\" with no_new_privileges: forkipc's " +
                    platform_name + " backend has no way to forbid them (Linux's PR_SET_NO_NEW_PRIVS)");

  // Relative paths mean what they would mean to exec() in the child: relative to its cwd.
  const fs::path base = options.cwd ? fs::absolute(*options.cwd) : fs::current_path();
  const std::vector<std::string> env = child_environment(options);
  fs::path program;
  std::vector<std::string> argv;
  if (options.exec_path) {
    const fs::path& exec_path = *options.exec_path;
    if (!exec_path.has_parent_path()) {
      const std::string_view search_path = path_variable(env);
      program = find_in_path(exec_path, search_path, base);
      if (program.empty())
        throw_system_error(ENOENT, "cannot start " + quoted(exec_path) +
                                       ": no executable of that name in PATH=" +
                                       std::string(search_path));
    } else {
      program = base / exec_path;
    }
    argv.push_back(exec_path.string());
    argv.insert(argv.end(), options.exec_args.begin(), options.exec_args.end());
  } else {
    program = base / module_path;
  }
  argv.push_back(module_path);
  argv.insert(argv.end(), args.begin(), args.end());

  // Copies above 0-3 first (a given one may sit where another goes), before this call opens
  // anything that could take the number of one that is not open; each in its place below.
  std::vector<unique_fd> extra;
  for (const int fd : options.extra_fds) {
    if (fd < 0) {
      extra.emplace_back();
    } else if (const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 10); copy >= 0) {
      extra.emplace_back(copy);
    } else {
      throw_system_error(errno, "cannot give descriptor " + std::to_string(fd) + " to " + quoted(program) +
                                    " (fork_options::extra_fds)");
    }
  }
  channel_ends channel = make_channel(options, program.string());
  const unique_fd child_end = std::move(channel.child);

  file_actions actions;
  stdio_pipes stdio;
  if (options.silent) {
    if (silent_output == captured_output::pipe) {
      stdio = make_stdio_pipes();
      actions.dup2(stdio.stdin_read.get(), STDIN_FILENO);
      actions.dup2(stdio.stdout_write.get(), STDOUT_FILENO);
      actions.dup2(stdio.stderr_write.get(), STDERR_FILENO);
    } else {
      actions.open(STDIN_FILENO, "/dev/null", O_RDONLY);
      actions.open(STDOUT_FILENO, "/dev/null", O_WRONLY);
      actions.open(STDERR_FILENO, "/dev/null", O_WRONLY);
    }
  }
  actions.dup2(child_end.get(), channel_fd);
  for (std::size_t i = 0; i < extra.size(); ++i) {
    const int target = channel_fd + 1 + static_cast<int>(i);
    // An ignored one is closed, whatever this process has there (glibc's close action does not
    // mind a descriptor that is not open).
    extra[i] ? actions.dup2(extra[i].get(), target) : actions.close(target);
  }
  pipe_ends exec_error;
  fs::path spawned = program;
  const std::vector<std::string> settings = exec_helper_settings(options, base);
  if (!settings.empty()) {
    spawned = exec_helper();
    exec_error = new_pipe("starting " + quoted(program));
    exec_error.write = move_above_stdio(std::move(exec_error.write));
    actions.dup2(exec_error.write.get(), exec_error_fd(options));
    std::vector<std::string> prefix{spawned.string()};
    if (!options.extra_fds.empty()) prefix.push_back("error_fd=" + std::to_string(exec_error_fd(options)));
    prefix.insert(prefix.end(), settings.begin(), settings.end());
    prefix.insert(prefix.end(), {"--", program.string()});
    argv.insert(argv.begin(), prefix.begin(), prefix.end());
  }
  if (spawn_can.close_from)
    spawn_close_from(actions.native(), exec_error_fd(options) + (exec_error.write ? 1 : 0));
  if (options.cwd && spawn_can.change_directory) spawn_change_directory(actions.native(), base.c_str());

  std::vector<char*> argv_pointers, env_pointers;
  for (const std::string& a : argv) argv_pointers.push_back(const_cast<char*>(a.c_str()));
  argv_pointers.push_back(nullptr);
  for (const std::string& e : env) env_pointers.push_back(const_cast<char*>(e.c_str()));
  env_pointers.push_back(nullptr);

  const default_signals attributes(options.detached && spawn_can.new_session);
  pid_t pid = -1;
  int result = ::posix_spawn(&pid, spawned.c_str(), actions.get(), attributes.get(),
                             argv_pointers.data(), env_pointers.data());
  const bool helper_failed = result != 0 && spawned != program;
  restriction_failure failed_step;
  if (result == 0 && exec_error.read) {
    exec_error.write.reset();  // else the read below would never see the end
    failed_step = read_exec_error(exec_error.read);
    if ((result = failed_step.error) != 0) {
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
  if (result != 0) {
    if (failed_step.step != restriction_step::none)
      throw_system_error(result, "cannot start " + quoted(program) + ": " + describe_failure(failed_step, options));
    // posix_spawn reports a failed chdir and a failed exec alike; tell them apart for the user.
    if (options.cwd) {
      if (const int problem = working_directory_problem(base))
        throw_system_error(problem, "cannot start " + quoted(program) + " in working directory " + quoted(base));
    }
    if (helper_failed) {
      throw_system_error(result, "cannot start " + quoted(program) + ": it needs forkipc's helper " +
                                     quoted(spawned) + " (install forkipc, or set FORKIPC_LIBEXECDIR to its folder)");
    }
    throw_system_error(result, "cannot start " + quoted(program) + remedy(restriction_step::none, result, options));
  }

  std::error_code ec;
  unique_fd exit_descriptor = open_exit_descriptor(pid, ec);
  if (ec) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw error(ec, "cannot watch the child " + quoted(program) + " (pidfd_open)");
  }
  return {process(pid, std::move(exit_descriptor)), std::move(channel.parent), std::move(stdio.stdout_read),
          std::move(stdio.stderr_read), std::move(stdio.stdin_write)};
}

child_restrictions restrictions_of(const fork_options& options, pid_t parent) {
  child_restrictions r;
  if (options.limits.memory_bytes) r.memory_bytes = *options.limits.memory_bytes;
  if (options.limits.cpu_time) r.cpu_seconds = static_cast<std::uint64_t>(options.limits.cpu_time->count());
  if (options.limits.open_files) r.open_files = *options.limits.open_files;
  r.no_new_privileges = options.no_new_privileges;
  if (options.kill_on_parent_exit) r.parent = parent;
  r.new_session = options.detached;
  r.change_group = options.gid.has_value();
  r.group = options.gid.value_or(0);
  r.change_user = options.uid.has_value();
  r.user = options.uid.value_or(0);
  return r;
}

std::string describe_failure(const restriction_failure& failure, const fork_options& options) {
  return describe(failure.step, restrictions_of(options, ::getpid())) + " failed in the child" +
         remedy(failure.step, failure.error, options);
}

channel_ends make_channel(const fork_options& options, const std::string& program) {
  channel_ends ends;
  if (const int failed = make_socket_pair(ends.parent.socket, ends.child))
    throw_system_error(failed, "cannot create the channel for " + quoted(fs::path(program)));
  ends.child = move_above_stdio(std::move(ends.child));
  // The shared memory goes first on the socket, before the child can look.
  if (options.transport == transport::shared_memory) {
    unique_fd region;
    ends.parent.rings.emplace(byte_stream::create_rings(region));
    byte_stream::send_setup(ends.parent.socket.get(), region);
  }
  return ends;
}

stdio_pipes make_stdio_pipes() {
  pipe_ends in = make_stdio_pipe(false), out = make_stdio_pipe(true), err = make_stdio_pipe(true);
  return {std::move(in.read),  std::move(in.write),  std::move(out.read),
          std::move(out.write), std::move(err.read), std::move(err.write)};
}

}  // namespace forkipc::detail

