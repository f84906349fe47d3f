#include "support.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace test {

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
