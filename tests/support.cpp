#include "support.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cfloat>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <fstream>
#include <sstream>

namespace test {

using forkipc::json;

forkipc::transport transport_under_test() {
  const char* name = std::getenv("FORKIPC_TEST_TRANSPORT");
  return name != nullptr && std::string_view(name) == "shared_memory" ? forkipc::transport::shared_memory
                                                                      : forkipc::transport::socket;
}

forkipc::fork_options on_test_transport(forkipc::fork_options options) {
  if (!options.exec_path) options.transport = transport_under_test();
  return options;
}

std::shared_ptr<forkipc::child_process> fork(boost::asio::io_context& io, std::string module_path,
                                             std::vector<std::string> args,
                                             forkipc::fork_options options) {
  return forkipc::fork(io, std::move(module_path), std::move(args),
                       on_test_transport(std::move(options)));
}

// Sends each value to an echo child and checks that it comes back equal, in order.
void check_round_trips(const std::string& program, const std::vector<json>& values,
                       forkipc::fork_options options) {
  boost::asio::io_context io;
  auto child = test::fork(io, program, {}, options);
  recorder seen(*child);
  for (const json& value : values) child->send(value);
  test::run_until(io, [&] { return seen.messages.size() == values.size() || seen.closed(); });
  REQUIRE(seen.messages.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    CAPTURE(i);
    CHECK(seen.messages[i] == values[i]);
    // Kinds survive; signedness need not: 1 comes back as nlohmann's unsigned kind.
    CHECK(seen.messages[i].is_number_float() == values[i].is_number_float());
    CHECK(seen.messages[i].is_number_integer() == values[i].is_number_integer());
  }
  CHECK(seen.errors.empty());
  child->disconnect();
  test::run_to_end(io);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
}

std::vector<json> every_kind_of_value() {
  json nested = json::array();
  json* inner = &nested;
  for (int depth = 0; depth < 100; ++depth) {
    inner->push_back(json::object({{"depth", depth}}));
    (*inner)[0]["next"] = json::array();
    inner = &(*inner)[0]["next"];
  }
  json wide = json::object();
  for (int k = 0; k < 1000; ++k) wide["key" + std::to_string(k)] = k;
  return {
      nullptr, true, false, 0, 1, -1,
      std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(),
      std::numeric_limits<std::uint64_t>::max(),
      (std::int64_t{1} << 53) + 1,
      0.5, -0.0, 1e308, -1e-308, DBL_MAX, DBL_MIN, 5e-324, 0.1, 1.0 / 3,
      "", "plain", "中文 and 😀 and é",
      "\"quotes\" \\backslash\\ /slash\b\f\n\r\t",
      std::string("nul \0 and \x01 and \x1f", 18),
      "line\u2028separator\u2029paragraph",
      json::array(), json::object(), json::array({1, "two", nullptr, 3.5, json::array({true})}),
      json{{"a", 1}, {"b", json{{"c", json::array({1, 2, 3})}}}},
      json{{"cmd", "NODE_"}}, json{{"cmd", "NODEX"}},  // not internal: ordinary messages
      nested, wide,
  };
}


json node_parent_report(const std::string& script, std::vector<std::string> args) {
  boost::asio::io_context io;
  auto node = forkipc::fork(io, test::script(script), std::move(args), {.exec_path = "node"});
  recorder seen(*node);
  test::run_to_end(io);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
  REQUIRE(seen.messages.size() == 1);
  REQUIRE_MESSAGE(!seen.messages[0].contains("timed_out"), seen.messages[0].dump().substr(0, 2000));
  return seen.messages[0];
}


bool is_forkipc_shared_memory(std::string_view path, std::string_view name) {
  if (linux_backend) return path.find("/memfd:" + std::string(name) + " (deleted)") != std::string_view::npos;
  if (name.starts_with("forkipc-")) name.remove_prefix(8);
  const std::string unlinked = "/dev/shm/fipc-" + std::string(name.substr(0, 8)) + "-";
  return path.find(unlinked) != std::string_view::npos && path.find("(deleted)") != std::string_view::npos;
}

std::string helper(std::string_view name) { return FORKIPC_TEST_HELPERS "/" + std::string(name); }

std::string script(std::string_view name) { return FORKIPC_TEST_SCRIPTS "/" + std::string(name); }

bool run_to_end(boost::asio::io_context& io, std::chrono::steady_clock::duration timeout) {
  io.restart();
  io.run_for(timeout);
  CHECK_MESSAGE(io.stopped(), "the io_context still had work after the timeout");
  return io.stopped();
}

std::vector<int> open_fds() {
  std::vector<int> fds;
  DIR* dir = ::opendir("/proc/self/fd");
  REQUIRE(dir != nullptr);
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd != ::dirfd(dir)) fds.push_back(fd);
  }
  ::closedir(dir);
  return fds;
}

std::vector<int> child_pids(int parent) {
  std::vector<int> children;
  DIR* proc = ::opendir("/proc");
  REQUIRE(proc != nullptr);
  const std::string self = std::to_string(parent != 0 ? parent : ::getpid());
  while (const dirent* entry = ::readdir(proc)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    std::ifstream status(std::string("/proc/") + entry->d_name + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("PPid:", 0) == 0) {
        std::istringstream fields(line.substr(5));
        std::string ppid;
        fields >> ppid;
        if (ppid == self) children.push_back(std::atoi(entry->d_name));
        break;
      }
    }
  }
  ::closedir(proc);
  return children;
}

namespace {

// The state letter of /proc/PID/status ('R', 'S', 'Z'...); nullopt once pid is gone.
std::optional<char> state_of(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("State:", 0) != 0) continue;
    const auto letter = line.find_first_not_of(" \t", 6);
    if (letter != std::string::npos) return line[letter];
  }
  return std::nullopt;
}

}  // namespace

bool zombie(int pid) { return state_of(pid) == 'Z'; }

bool running(int pid) {
  const auto state = state_of(pid);
  return state && *state != 'Z';
}

std::string describe_end(std::optional<int> code, std::optional<int> signal) {
  if (code && !signal) return std::to_string(*code);
  if (signal && !code) return "SIG" + std::to_string(*signal);
  return "invalid: code and signal both " + std::string(code ? "set" : "unset");
}

recorder::recorder(forkipc::child_process& child) {
  child.on("spawn", [this] { events.push_back("spawn"); });
  child.on("message", [this](const forkipc::json& m) {
    events.push_back("message");
    messages.push_back(m);
  });
  child.on("disconnect", [this] { events.push_back("disconnect"); });
  child.on("exit", [this](std::optional<int> code, std::optional<int> signal) {
    events.push_back("exit " + describe_end(code, signal));
  });
  child.on("close", [this](std::optional<int> code, std::optional<int> signal) {
    events.push_back("close " + describe_end(code, signal));
    ++closes;
  });
  child.on("error", [this](const forkipc::error& e) {
    events.push_back(std::string("error: ") + e.what());
    errors.push_back(e);
  });
  child.on("stdout", [this](std::string_view data) { out += data; });
  child.on("stderr", [this](std::string_view data) { err += data; });
}

std::vector<std::string> recorder::lifecycle() const {
  std::vector<std::string> result;
  for (const auto& e : events)
    if (e != "message" && e.rfind("error", 0) != 0) result.push_back(e);
  return result;
}

}  // namespace test
