// What the test suites share: where the helpers are, bounded event-loop runs, and looks at this
// process's descriptors and children.
#pragma once

#include <forkipc/forkipc.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace test {

using namespace std::chrono_literals;

/// The backend this build uses (Meson's platform option): "linux" (pidfds, sealed memfds,
/// kill_on_parent_exit) or "posix" (POSIX calls only). The suites run on both: where the two
/// differ on purpose, a test checks each one's own promise.
inline constexpr std::string_view platform = FORKIPC_PLATFORM;
inline constexpr bool linux_backend = platform == "linux";

/// Whether this build runs under AddressSanitizer (g++'s and clang++'s ways of saying so), which
/// reserves terabytes of address space at start-up: a child with an address-space limit cannot
/// even start under it.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool address_sanitized = true;
#elif defined(__has_feature)
inline constexpr bool address_sanitized = __has_feature(address_sanitizer);
#else
inline constexpr bool address_sanitized = false;
#endif

/// Whether this build runs under AddressSanitizer or ThreadSanitizer, whose processes start
/// several times slower and whose allocators keep freed memory in quarantine.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool sanitized = true;
#elif defined(__has_feature)
inline constexpr bool sanitized = address_sanitized || __has_feature(thread_sanitizer);
#else
inline constexpr bool sanitized = address_sanitized;
#endif

/// Whether path (where a /proc/PID/fd link leads, or a line of /proc/PID/maps) is shared memory
/// forkipc made under name ("forkipc-segment", "forkipc-ring", "forkipc-channel"): a memfd of
/// that name on the linux backend; on the posix one, which cannot give it a lasting name, an
/// unlinked shm_open object whose name says what it was for ("/dev/shm/fipc-segment-... (deleted)").
bool is_forkipc_shared_memory(std::string_view path, std::string_view name);

/// The transport this run of a suite uses: tests/meson.build runs the suites that start forkipc
/// children a second time with FORKIPC_TEST_TRANSPORT=shared_memory.
forkipc::transport transport_under_test();

/// options on the run's transport, unless they start the program under an interpreter
/// (exec_path: a Node script only speaks the socket).
forkipc::fork_options on_test_transport(forkipc::fork_options options);

/// forkipc::fork on the run's transport: for children built on forkipc. A raw or Node peer is
/// started with forkipc::fork itself.
std::shared_ptr<forkipc::child_process> fork(boost::asio::io_context& io, std::string module_path,
                                             std::vector<std::string> args = {},
                                             forkipc::fork_options options = {});

/// forkipc::sync::child on the run's transport, as test::fork.
class sync_child : public forkipc::sync::child {
 public:
  explicit sync_child(std::string module_path, std::vector<std::string> args = {},
                      forkipc::fork_options options = {})
      : child(std::move(module_path), std::move(args), on_test_transport(std::move(options))) {}
};

/// The path of a helper program built in tests/helpers/.
std::string helper(std::string_view name);
/// The path of a script in tests/scripts/.
std::string script(std::string_view name);

/// Runs io until done() holds, or fails the test after timeout. Returns done().
template <class Done>
bool run_until(boost::asio::io_context& io, Done done,
               std::chrono::steady_clock::duration timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    if (io.run_one_until(deadline) == 0 && io.stopped()) break;  // no work left
  }
  const bool ok = done();
  CHECK_MESSAGE(ok, "the awaited event did not come");
  return ok;
}

/// Runs io until it has no work left (every child closed), or fails the test after timeout.
bool run_to_end(boost::asio::io_context& io, std::chrono::steady_clock::duration timeout = 30s);

/// The descriptors this process has open.
std::vector<int> open_fds();

/// The pids of the children of parent (by default, this process), zombies included.
std::vector<int> child_pids(int parent = 0);

/// Whether pid is a zombie: ended, and not yet reaped by its parent.
bool zombie(int pid);

/// Whether pid exists and has not ended (a zombie has).
bool running(int pid);

/// Polls condition every few milliseconds until it holds; fails the test after timeout. For
/// states that no event announces (another process's children, say). what names the state in
/// the failure.
template <class Condition>
bool eventually(const char* what, Condition condition, std::chrono::steady_clock::duration timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool ok = condition();  // judged once per look: the state may change between two looks
  while (!ok && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ok = condition();
  }
  CHECK_MESSAGE(ok, "this did not come to hold: " << std::string(what));
  return ok;
}

/// Everything a child_process emits, in order, as short strings: "spawn", "message",
/// "disconnect", "exit 0", "exit SIG15", "close 0", "error: ..." (stdout and stderr apart).
struct recorder {
  std::vector<std::string> events;
  std::vector<forkipc::json> messages;
  std::vector<forkipc::error> errors;
  std::string out, err;
  int closes = 0;

  explicit recorder(forkipc::child_process& child);
  bool closed() const { return closes > 0; }
  /// events without the messages and errors.
  std::vector<std::string> lifecycle() const;
};

/// Sends each value to program (an echo child) and checks that it comes back equal and of the
/// same kind, in order, and that the child then ends cleanly.
void check_round_trips(const std::string& program, const std::vector<forkipc::json>& values,
                       forkipc::fork_options options = {});

/// A value of every kind JSON has, edges included (deep nesting, wide objects, unicode).
std::vector<forkipc::json> every_kind_of_value();

/// Runs tests/scripts/<script> under node with args; returns the one message it reports (a Node
/// parent script reports what it saw of its own child this way).
forkipc::json node_parent_report(const std::string& script, std::vector<std::string> args);

std::string describe_end(std::optional<int> code, std::optional<int> signal);

}  // namespace test
