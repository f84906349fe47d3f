// What a hostile peer writes on a channel, with no library in between: shared by the hostile
// suite (tests/test_hostile.cpp, which attacks forkipc children) and the hostile_peer helper
// (which attacks forkipc parents), so that both sides face the same bytes.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attacks {

enum class framing { json, binary };

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif
#else
inline constexpr bool sanitized = false;
#endif

/// How many lines "lines_unread" writes: a million, or a tenth of that under the sanitizers,
/// whose build runs each message ten times slower (CI's time is bounded).
inline constexpr unsigned unread_lines = sanitized ? 100'000 : 1'000'000;

/// The deepest nesting the suites expect a forkipc end to take by default
/// (channel_options::max_nesting_depth).
inline constexpr std::size_t default_depth_limit = 5000;

/// Writes bytes to fd, blocking until all are written; fds (when given) go with the first byte,
/// by SCM_RIGHTS. Throws std::runtime_error when the peer is gone.
inline void write_all(int fd, std::string_view bytes, std::span<const int> fds = {}) {
  std::vector<char> control;
  while (!bytes.empty()) {
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    if (!fds.empty()) {
      control.assign(CMSG_SPACE(fds.size() * sizeof(int)), 0);
      message.msg_control = control.data();
      message.msg_controllen = control.size();
      cmsghdr* header = CMSG_FIRSTHDR(&message);
      header->cmsg_level = SOL_SOCKET;
      header->cmsg_type = SCM_RIGHTS;
      header->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
      std::memcpy(CMSG_DATA(header), fds.data(), fds.size() * sizeof(int));
    }
    const ssize_t n = ::sendmsg(fd, &message, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("cannot write to the channel: ") + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
    fds = {};
  }
}

/// A MessagePack body in a binary frame (a 4-byte big-endian length first).
inline std::string frame(std::string_view body) {
  const auto n = static_cast<std::uint32_t>(body.size());
  std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                  static_cast<char>(n)};
  return out.append(body);
}

/// One message in framing: a json line, or a frame of the same value in MessagePack.
inline std::string message(framing f, std::string_view json_text, std::string_view msgpack) {
  return f == framing::json ? std::string(json_text) + "\n" : frame(msgpack);
}

/// Arrays nested depth deep around 0: [[[0]]].
inline std::string deep_arrays(framing f, std::size_t depth) {
  if (f == framing::json) return std::string(depth, '[') + "0" + std::string(depth, ']') + "\n";
  return frame(std::string(depth, '\x91') + '\0');
}

/// Objects nested depth deep: {"a":{"a":0}}.
inline std::string deep_objects(framing f, std::size_t depth) {
  if (f == framing::json) {
    std::string out;
    for (std::size_t i = 0; i < depth; ++i) out += "{\"a\":";
    out += "0";
    out.append(depth, '}');
    return out + "\n";
  }
  std::string body;
  for (std::size_t i = 0; i < depth; ++i) body += "\x81\xA1" "a";
  return frame(body + '\0');
}

/// {"probe":n}, which an echo answers with itself, in framing.
inline std::string probe(framing f, unsigned n) {
  return message(f, "{\"probe\":" + std::to_string(n) + "}", std::string("\x81\xA5probe") + static_cast<char>(n & 0x7F));
}

/// {"ok":n}: the answer to a probe.
inline std::string answer(framing f, unsigned n) {
  return message(f, "{\"ok\":" + std::to_string(n) + "}", std::string("\x81\xA2ok") + static_cast<char>(n & 0x7F));
}

/// The attacks, by name, for each framing. Each writes to fd and returns. After each but the
/// last binary one the peer must go on with the next message; after "frame_length_4GB" (a length
/// binary framing cannot skip) it closes the channel.
inline std::vector<std::string> names(framing f) {
  std::vector<std::string> all = {"deep_at_limit", "deep_over_limit", "deep_arrays_20000",
                                  "deep_arrays_200000", "deep_arrays_1000000", "deep_objects_100000",
                                  "descriptor_flood", "descriptors_with_handles"};
  if (f == framing::json) {
    for (const char* name : {"long_line_100MB", "bad_text", "lines_unread"}) all.push_back(name);
  } else {
    for (const char* name : {"length_claims_4GB", "ext_types", "empty_frame", "frame_length_4GB"}) all.push_back(name);
  }
  return all;
}

/// Whether the peer goes on after the attack (see names()).
inline bool channel_survives(std::string_view name) { return name != "frame_length_4GB"; }

/// Runs the attack called name on the channel fd.
inline void run(std::string_view name, framing f, int fd) {
  const auto plain = [&](unsigned n) {
    return message(f, "{\"n\":" + std::to_string(n) + "}", std::string("\x81\xA1n") + static_cast<char>(n & 0x7F));
  };
  if (name == "deep_at_limit") return write_all(fd, deep_arrays(f, default_depth_limit));
  if (name == "deep_over_limit") return write_all(fd, deep_arrays(f, default_depth_limit + 1));
  if (name == "deep_arrays_20000") return write_all(fd, deep_arrays(f, 20'000));
  if (name == "deep_arrays_200000") return write_all(fd, deep_arrays(f, 200'000));
  if (name == "deep_arrays_1000000") return write_all(fd, deep_arrays(f, 1'000'000));
  if (name == "deep_objects_100000") return write_all(fd, deep_objects(f, 100'000));
  if (name == "descriptor_flood") {
    // 1000 ordinary messages, each with 200 descriptors: more than one read takes.
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const std::vector<int> many(200, null_fd);
    for (unsigned i = 0; i < 1000; ++i) write_all(fd, plain(i % 100), many);
    ::close(null_fd);
    return;
  }
  if (name == "descriptors_with_handles") {
    // Node's handle message with none, then with five; in binary framing, which has no such
    // message, ordinary messages with one and with five.
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const std::vector<int> five(5, null_fd);
    const std::string handle = message(f, R"({"cmd":"NODE_HANDLE","type":"net.Native","msg":{"n":1}})",
                                       std::string("\x83\xA3" "cmd\xABNODE_HANDLE\xA4type\xAAnet.Native\xA3msg\x81\xA1n\x01"));
    write_all(fd, handle);
    write_all(fd, handle, five);
    write_all(fd, plain(2), std::span<const int>(five).first(1));
    ::close(null_fd);
    return;
  }
  if (name == "long_line_100MB") {  // over the default 64 MiB limit, in 1 MiB writes
    write_all(fd, "{\"s\":\"");
    const std::string piece(1 << 20, 'x');
    for (int i = 0; i < 100; ++i) write_all(fd, piece);
    return write_all(fd, "\"}\n");
  }
  if (name == "bad_text") {
    using namespace std::string_view_literals;
    for (std::string_view line : {"{\"s\":\"\xff\xfe\"}\n"sv, "{\"s\":\"\0\"}\n"sv, "\"a\\udc00b\"\n"sv,
                                  "[1e999999]\n"sv, "\n"sv, "{\n"sv, "\x00\x01\n"sv})
      write_all(fd, line);
    return;
  }
  if (name == "lines_unread") {
    std::string batch;
    for (unsigned i = 0; i < unread_lines; ++i) {
      batch += plain(i % 100);
      if (batch.size() > (1 << 16)) write_all(fd, std::exchange(batch, {}));
    }
    return write_all(fd, batch);
  }
  if (name == "length_claims_4GB") {
    // Inside frames of honest length: an array, a map, a string and binary claiming 4 GiB.
    for (std::string_view body : {std::string_view("\xDD\xFF\xFF\xFF\xFF", 5), std::string_view("\xDF\xFF\xFF\xFF\xFF", 5),
                                  std::string_view("\xDB\xFF\xFF\xFF\xFF", 5), std::string_view("\xC6\xFF\xFF\xFF\xFF", 5)})
      write_all(fd, frame(body));
    return;
  }
  if (name == "ext_types") {
    // forkipc's out-of-band type with made-up references, then other extension types (which
    // arrive as binary values with a subtype).
    write_all(fd, frame(std::string("\xC7\x15\x7F", 3) + std::string(21, '\x01')));
    write_all(fd, frame(std::string("\xD4\x7F\x00", 3)));
    write_all(fd, frame(std::string("\xD6\x05" "abcd", 6)));
    return;
  }
  if (name == "empty_frame") return write_all(fd, std::string(4, '\0'));
  if (name == "frame_length_4GB") return write_all(fd, "\xFF\xFF\xFF\xFF");
  throw std::invalid_argument("no attack called " + std::string(name));
}

/// Reads from fd into seen until it holds wanted (appended as read), or the peer closes; true
/// when found. Bounded by timeout_ms without data.
inline bool read_until(int fd, std::string& seen, std::string_view wanted, int timeout_ms = 60'000) {
  char buffer[1 << 16];
  std::size_t searched = 0;
  for (;;) {
    if (const auto at = seen.find(wanted, searched); at != std::string::npos) return true;
    searched = seen.size() >= wanted.size() ? seen.size() - wanted.size() + 1 : 0;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    seen.append(buffer, static_cast<std::size_t>(n));
  }
}

/// Reads from fd until the peer closes it (or nothing came for timeout_ms).
inline void read_to_end(int fd, int timeout_ms = 60'000) {
  char buffer[1 << 16];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return;
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0 || (n < 0 && errno != EINTR)) return;
  }
}

}  // namespace attacks
