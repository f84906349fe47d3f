#include "process/inherited_channel.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>

#include <forkipc/error.hpp>

#include "process/zygote_server.hpp"

namespace forkipc::detail {
namespace {

constexpr const char* channel_fd_variable = "NODE_CHANNEL_FD";
constexpr const char* serialization_variable = "NODE_CHANNEL_SERIALIZATION_MODE";

// The one piece of process-wide state forkipc keeps besides the default context: the inherited
// descriptor is itself process-wide, and its environment variables are gone once it is taken.
struct inherited {
  std::mutex mutex;
  bool probed = false;
  std::optional<std::string> channel_fd;  // NODE_CHANNEL_FD as the process started with it
  bool taken = false;

  void probe() {
    if (probed) return;
    probed = true;
    if (const char* value = std::getenv(channel_fd_variable)) channel_fd = value;
  }
};

inherited& state() {
  static inherited instance;
  return instance;
}

[[noreturn]] void throw_invalid(std::errc code, const std::string& value, const char* problem) {
  throw error(std::make_error_code(code),
              std::string(channel_fd_variable) + "=" + value + " " + problem);
}

int validated_descriptor(const std::string& value) {
  int fd = -1;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), fd);
  if (ec != std::errc() || end != value.data() + value.size() || fd < 0)
    throw_invalid(std::errc::bad_file_descriptor, "\"" + value + "\"", "is not a descriptor number");
  struct stat st;
  if (::fstat(fd, &st) != 0) throw_invalid(std::errc::bad_file_descriptor, value, "is not an open descriptor");
  if (!S_ISSOCK(st.st_mode)) throw_invalid(std::errc::not_a_socket, value, "is not a socket");
  // The family from getsockname, not SO_DOMAIN, which macOS lacks.
  sockaddr_storage self{};
  socklen_t length = sizeof self;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &length);
  int type = 0;
  length = sizeof type;
  ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length);
  if (self.ss_family != AF_UNIX || type != SOCK_STREAM)
    throw_invalid(std::errc::wrong_protocol_type, value, "is not a Unix stream socket");
  // A listening or never connected socket would only fail on the first read.
  sockaddr_storage peer;
  length = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0)
    throw_invalid(std::errc::not_connected, value, "is a Unix stream socket, but not connected to a peer");
  return fd;
}

channel_mode inherited_mode() {
  const char* name = std::getenv(serialization_variable);
  if (name == nullptr) return {};
  if (auto mode = channel_mode_named(name)) return *mode;
  throw error(errc::unsupported_serialization,
              std::string(serialization_variable) + "=" + name + " names no serialization forkipc knows");
}

constexpr struct {
  const char* name;
  channel_mode mode;
} mode_names[] = {
    {"json", {serialization::json, transport::socket}},
    {"forkipc-binary", {serialization::binary, transport::socket}},
    {"forkipc-json-shm", {serialization::json, transport::shared_memory}},
    {"forkipc-binary-shm", {serialization::binary, transport::shared_memory}},
    {"advanced", {serialization::advanced, transport::socket}},
    {"forkipc-advanced-shm", {serialization::advanced, transport::shared_memory}},
};

}  // namespace

const char* channel_mode_name(channel_mode mode) noexcept {
  for (const auto& entry : mode_names)
    if (entry.mode.framing == mode.framing && entry.mode.transport == mode.transport) return entry.name;
  return "json";
}

std::optional<channel_mode> channel_mode_named(std::string_view name) noexcept {
  for (const auto& entry : mode_names)
    if (name == entry.name) return entry.mode;
  return std::nullopt;
}

bool started_with_channel() noexcept {
  serve_as_zygote_if_asked();
  inherited& s = state();
  std::lock_guard lock(s.mutex);
  s.probe();
  return s.channel_fd.has_value();
}

inherited_channel take_inherited_channel() {
  serve_as_zygote_if_asked();
  inherited& s = state();
  std::lock_guard lock(s.mutex);
  s.probe();
  if (!s.channel_fd)
    throw error(errc::not_forked, std::string(channel_fd_variable) + " is not set");
  if (s.taken) {
    throw error(std::make_error_code(std::errc::device_or_resource_busy),
                "the channel to the parent was taken already, by an earlier forkipc::parent() "
                "or forkipc::sync::parent");
  }
  const channel_mode mode = inherited_mode();
  const int fd = validated_descriptor(*s.channel_fd);
  std::optional<shm::ring_region> rings;
  if (mode.transport == transport::shared_memory) rings.emplace(byte_stream::receive_setup(fd));
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::unsetenv(channel_fd_variable);
  ::unsetenv(serialization_variable);
  s.taken = true;
  return {{unique_fd(fd), std::move(rings)}, mode.framing};
}

}  // namespace forkipc::detail
