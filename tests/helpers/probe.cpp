// Reports how it was started, as one message: its open descriptors (looked at before anything
// else opens one), argv, cwd, environment, and what its stdin is. Then it waits for the parent
// to disconnect.
#include <forkipc/forkipc.hpp>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

extern char** environ;

int main(int argc, char** argv) {
  forkipc::json fds = forkipc::json::array();
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      const int fd = std::atoi(entry->d_name);
      if (fd != ::dirfd(dir)) fds.push_back(fd);
    }
    ::closedir(dir);
  }
  forkipc::json env = forkipc::json::object();
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  struct stat in{}, null{};
  const bool stdin_is_null = ::fstat(0, &in) == 0 && ::stat("/dev/null", &null) == 0 &&
                             in.st_rdev == null.st_rdev && S_ISCHR(in.st_mode);
  forkipc::sync::parent parent;
  parent.send({{"fds", fds},
               {"argv", std::vector<std::string>(argv, argv + argc)},
               {"cwd", std::filesystem::current_path().string()},
               {"env", env},
               {"env_after_take", {{"NODE_CHANNEL_FD", std::getenv("NODE_CHANNEL_FD") != nullptr}}},
               {"stdin_is_null", stdin_is_null}});
  while (parent.receive()) {
  }
  return 0;
}
