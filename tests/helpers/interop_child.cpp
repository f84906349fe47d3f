// A C++ child for Node parents (tests/scripts/parent_of_cpp.js, advanced_parent.js). argv[1]
// names the API it takes its channel with: "async" (forkipc::parent(io)) or "sync"
// (forkipc::sync::parent). Its first message, the hello, tells what taking the channel left
// behind: the channel variables before and after, whether the descriptor became close-on-exec,
// and what a grandchild (this program again, as "interop_child grandchild") sees: those variables
// and its open descriptors, printed to a pipe. Then it answers every message with itself until
// the parent disconnects, and exits 0; {"do": "disconnect"} makes it disconnect first. A message
// it cannot take (an "error" event, or what sync::parent::receive() throws) is answered with
// {"error": what(), "code": the errc's number}. When it cannot take the channel it prints why
// to stderr and exits 1.
#include <forkipc/forkipc.hpp>

#include <dirent.h>
#include <fcntl.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

using forkipc::json;

namespace {

json variable(const char* name) {
  const char* value = std::getenv(name);
  return value ? json(value) : json(nullptr);
}

json channel_variables() {
  return {{"NODE_CHANNEL_FD", variable("NODE_CHANNEL_FD")},
          {"NODE_CHANNEL_SERIALIZATION_MODE", variable("NODE_CHANNEL_SERIALIZATION_MODE")}};
}

// The grandchild: its channel variables and open descriptors, as JSON on stdout.
int report_as_grandchild() {
  json fds = json::array();
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* entry = ::readdir(dir)) {
      const int fd = std::atoi(entry->d_name);
      if (entry->d_name[0] != '.' && fd != ::dirfd(dir)) fds.push_back(fd);
    }
    ::closedir(dir);
  }
  std::puts(json{{"env", channel_variables()}, {"fds", fds}}.dump().c_str());
  return 0;
}

json run_grandchild() {
  const std::string command = "'" + std::filesystem::read_symlink("/proc/self/exe").string() + "' grandchild";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  std::string out;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  ::pclose(pipe);
  return json::parse(out);
}

// Called right after the channel was taken; fd is NODE_CHANNEL_FD as it was before.
json hello(const json& before) {
  const int fd = std::atoi(before["NODE_CHANNEL_FD"].get<std::string>().c_str());
  return {{"before", before},
          {"after", channel_variables()},
          {"cloexec", (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0},
          {"grandchild", run_grandchild()}};
}

bool is_disconnect_request(const json& m) {
  return m.is_object() && m.contains("do") && m["do"] == "disconnect";
}

json refusal(const forkipc::error& e) { return {{"error", e.what()}, {"code", e.code().value()}}; }

int run_async() {
  const json before = channel_variables();
  boost::asio::io_context io;
  auto parent = forkipc::parent(io);
  parent->send(hello(before));
  parent->on("message", [&](const json& m) {
    if (is_disconnect_request(m)) parent->disconnect();
    else parent->send(m);
  });
  parent->on("error", [&](const forkipc::error& e) { parent->send(refusal(e)); });
  io.run();
  return 0;
}

int run_sync() {
  const json before = channel_variables();
  forkipc::sync::parent parent;
  parent.send(hello(before));
  for (;;) {
    std::optional<json> m;
    try {
      m = parent.receive();
    } catch (const forkipc::error& e) {
      parent.send(refusal(e));
      continue;
    }
    if (!m || is_disconnect_request(*m)) break;
    parent.send(*m);
  }
  parent.disconnect();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view api = argc > 1 ? argv[1] : "";
  try {
    if (api == "async") return run_async();
    if (api == "sync") return run_sync();
    if (api == "grandchild") return report_as_grandchild();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "interop_child: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "interop_child: argv[1] must be \"async\", \"sync\" or \"grandchild\"\n");
  return 2;
}
