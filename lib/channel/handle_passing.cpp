#include "channel/handle_passing.hpp"

#include <sys/socket.h>

namespace forkipc::detail {
namespace {

int socket_option(int fd, int option) {
  int value = -1;
  socklen_t length = sizeof value;
  if (::getsockopt(fd, SOL_SOCKET, option, &value, &length) != 0) return -1;
  return value;
}

}  // namespace

json handle_envelope(const json& message, int fd) {
  json envelope = {{"cmd", "NODE_HANDLE"}, {"msg", message}};
  const int type = socket_option(fd, SO_TYPE);
  const int domain = socket_option(fd, SO_DOMAIN);
  if (type == SOCK_STREAM) {
    envelope["type"] = socket_option(fd, SO_ACCEPTCONN) == 1 ? "net.Server" : "net.Socket";
  } else if (type == SOCK_DGRAM && (domain == AF_INET || domain == AF_INET6)) {
    envelope["type"] = "dgram.Socket";
    envelope["dgramType"] = domain == AF_INET ? "udp4" : "udp6";
  } else {
    envelope["type"] = "net.Native";
  }
  return envelope;
}

handle_command handle_command_of(const json& internal) noexcept {
  const auto cmd = internal.find("cmd");
  if (cmd == internal.end() || !cmd->is_string()) return handle_command::none;
  const auto& name = cmd->get_ref<const std::string&>();
  if (name == "NODE_HANDLE") return handle_command::handle;
  if (name == "NODE_HANDLE_ACK") return handle_command::ack;
  if (name == "NODE_HANDLE_NACK") return handle_command::nack;
  return handle_command::none;
}

const json& handle_ack() {
  static const json ack = {{"cmd", "NODE_HANDLE_ACK"}};
  return ack;
}

const json& handle_nack() {
  static const json nack = {{"cmd", "NODE_HANDLE_NACK"}};
  return nack;
}

}  // namespace forkipc::detail
