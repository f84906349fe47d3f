// The messages between a zygote's owner and the zygote, on the zygote's channel (fd 3).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "process/child_restrictions.hpp"

namespace forkipc::detail::zygote_protocol {

/// The environment variable that makes a program a zygote at its first call into forkipc's child
/// side. Its value is NODE_CHANNEL_SERIALIZATION_MODE for the children (the zygote's own channel
/// is a plain socket).
inline constexpr const char* variable = "FORKIPC_ZYGOTE";

/// Set, to 1, when forkipc put LD_BIND_NOW=1 in the zygote's environment (the user had not set
/// it): the dynamic loader then binds every symbol as the zygote starts, once, instead of at each
/// function's first call, which every child would otherwise repeat in its own copy of the
/// zygote's memory. The zygote removes both before it forks, so that its children's environment
/// is the user's.
inline constexpr const char* bind_now_variable = "FORKIPC_ZYGOTE_BIND_NOW";

/// The version of this protocol, which every reply of the zygote's carries (after its kind) for
/// the owner to check: a zygote program built with another forkipc is refused, not misread. A
/// reply's header is the same in every version (kind, version, 2 unused bytes, value, text
/// length); all else may change with the version. 0 is that of the first zygotes, which left the
/// byte unused; 2 added the orphan reply.
inline constexpr std::uint8_t version = 2;

/// "Fork a spare": the owner's one-byte request to the zygote, answered with a reply 'S' (the
/// spare's pid, and the owner's end of its link attached, SCM_RIGHTS) or 'E'. A spare is a child
/// of the owner forked ahead of the request it will serve; it waits on its link for that request.
/// It keeps a copy of the zygote's channel while it waits, for one reply of its own: 'O' (see
/// reply::orphan).
inline constexpr char spare_request = 'A';

/// "Go": the owner's one byte to a spare it lets go of without a request, written before it
/// closes the link. A spare whose link ends after any byte (this, or a request) was known to its
/// owner, and ends without a word; one whose link ends before any byte sends 'O'
/// (reply::orphan).
inline constexpr char let_go = 'X';

/// "Become this child": the owner sends it to a spare, on its link, with the child's end of the
/// new channel, and for a silent child its stdin, stdout and stderr (its ends of the pipes, or
/// /dev/null), attached (SCM_RIGHTS). The spare then applies the restrictions and writes a
/// restriction_failure on the link: empty, or the step that failed, and then it ends with 127.
struct request {
  static constexpr char kind = 'F';
  enum flag : std::uint8_t {
    silent = 1,
    kill_on_parent_exit = 2,
    no_new_privileges = 4,
    new_session = 8,
    change_group = 16,
    change_user = 32,
  };

  std::uint8_t flags = 0;
  child_restrictions restrictions;  // but its parent, which kill_on_parent_exit's flag sets

  static constexpr std::size_t size = 40;

  std::string encode() const {
    std::string out(size, '\0');
    out[0] = kind;
    out[1] = static_cast<char>(flags | (restrictions.no_new_privileges ? no_new_privileges : 0) |
                               (restrictions.new_session ? new_session : 0) |
                               (restrictions.change_group ? change_group : 0) |
                               (restrictions.change_user ? change_user : 0));
    std::memcpy(out.data() + 8, &restrictions.memory_bytes, 8);
    std::memcpy(out.data() + 16, &restrictions.cpu_seconds, 8);
    std::memcpy(out.data() + 24, &restrictions.open_files, 8);
    const auto group = static_cast<std::uint32_t>(restrictions.group), user = static_cast<std::uint32_t>(restrictions.user);
    std::memcpy(out.data() + 32, &group, 4);
    std::memcpy(out.data() + 36, &user, 4);
    return out;
  }

  static std::optional<request> decode(std::string_view bytes) {
    if (bytes.size() != size || bytes[0] != kind) return std::nullopt;
    request r;
    r.flags = static_cast<std::uint8_t>(bytes[1]);
    r.restrictions.no_new_privileges = (r.flags & no_new_privileges) != 0;
    r.restrictions.new_session = (r.flags & new_session) != 0;
    r.restrictions.change_group = (r.flags & change_group) != 0;
    r.restrictions.change_user = (r.flags & change_user) != 0;
    std::memcpy(&r.restrictions.memory_bytes, bytes.data() + 8, 8);
    std::memcpy(&r.restrictions.cpu_seconds, bytes.data() + 16, 8);
    std::memcpy(&r.restrictions.open_files, bytes.data() + 24, 8);
    std::uint32_t group = 0, user = 0;
    std::memcpy(&group, bytes.data() + 32, 4);
    std::memcpy(&user, bytes.data() + 36, 4);
    r.restrictions.group = static_cast<gid_t>(group);
    r.restrictions.user = static_cast<uid_t>(user);
    return r;
  }
};

/// The zygote's answer to a spare_request: 'S' and the spare's pid (its link attached), or 'E',
/// an errno, and why in words. Or a spare's 'O'.
struct reply {
  /// 'O', sent by a spare on the zygote's channel, with its pid, as it ends because its link
  /// ended before any byte came on it: its owner never heard of it (the owner writes on every
  /// link it is given, a request or let_go), for the zygote died between its fork and its 'S'
  /// (the link's only other end was the zygote's). The owner, whose child it is, reaps it: else
  /// a zombie nobody knows of would be left. It stands for the answer to the owner's last
  /// spare_request.
  static constexpr char orphan = 'O';

  // kind, version, 2 unused, the value, the text's length
  static constexpr std::size_t header_size = 12;

  char kind = 'S';
  std::int32_t value = 0;  // the pid, or the errno
  std::string why;
  std::uint8_t protocol = version;  // the zygote's

  std::string encode() const {
    std::string out(header_size, '\0');
    out[0] = kind;
    out[1] = static_cast<char>(protocol);
    const auto length = static_cast<std::uint32_t>(why.size());
    std::memcpy(out.data() + 4, &value, 4);
    std::memcpy(out.data() + 8, &length, 4);
    return out + why;
  }

  /// The text's length in a header: a whole reply is header_size + this many bytes.
  static std::uint32_t text_length(std::string_view header) {
    std::uint32_t length = 0;
    std::memcpy(&length, header.data() + 8, 4);
    return length;
  }

  /// A whole reply (header_size + text_length bytes).
  static reply decode(std::string_view bytes) {
    reply r;
    r.kind = bytes[0];
    r.protocol = static_cast<std::uint8_t>(bytes[1]);
    std::memcpy(&r.value, bytes.data() + 4, 4);
    r.why = std::string(bytes.substr(header_size));
    return r;
  }
};

}  // namespace forkipc::detail::zygote_protocol
