// The binary codec (MessagePack in length-prefixed frames) and the shared-memory ring, without
// a channel.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "codec/binary_frames.hpp"
#include "shared_memory.hpp"

using forkipc::json;
using namespace forkipc::detail;

namespace {

std::string msgpack(const json& value) {
  std::string out;
  write_msgpack(value, out);
  return out;
}

std::string bytes(std::initializer_list<unsigned> values) {
  std::string out;
  for (unsigned v : values) out.push_back(static_cast<char>(v));
  return out;
}

json read(std::string_view bytes) {
  json out;
  const auto why = read_msgpack(bytes, out);
  REQUIRE_MESSAGE(!why, *why);
  return out;
}

std::string why_not(std::string_view bytes) {
  json out;
  const auto why = read_msgpack(bytes, out);
  REQUIRE(why);
  return *why;
}

}  // namespace

TEST_CASE("MessagePack: the smallest forms, as the specification gives them") {
  CHECK(msgpack(nullptr) == bytes({0xC0}));
  CHECK(msgpack(true) == bytes({0xC3}));
  CHECK(msgpack(5) == bytes({0x05}));
  CHECK(msgpack(-5) == bytes({0xFB}));
  CHECK(msgpack(200) == bytes({0xCC, 0xC8}));
  CHECK(msgpack(-200) == bytes({0xD1, 0xFF, 0x38}));
  CHECK(msgpack(70000) == bytes({0xCE, 0x00, 0x01, 0x11, 0x70}));
  CHECK(msgpack(1.5) == bytes({0xCB, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0}));
  CHECK(msgpack("ab") == bytes({0xA2, 'a', 'b'}));
  CHECK(msgpack(json::array({1, 2})) == bytes({0x92, 0x01, 0x02}));
  CHECK(msgpack(json{{"n", 1}}) == bytes({0x81, 0xA1, 'n', 0x01}));
  CHECK(msgpack(json::binary({7, 8})) == bytes({0xC4, 0x02, 0x07, 0x08}));
  CHECK(msgpack(json::binary({7, 8}, 5)) == bytes({0xD5, 0x05, 0x07, 0x08}));
  // nlohmann's own encoder agrees on these (it writes doubles that fit as float 32; forkipc
  // always writes float 64).
  for (const json& v : {json(nullptr), json(5), json(-200), json("ab"), json{{"n", 1}}}) {
    const auto theirs = json::to_msgpack(v);
    CHECK(msgpack(v) == std::string(theirs.begin(), theirs.end()));
  }
}

TEST_CASE("MessagePack: values read back as they were, and what nlohmann writes reads too") {
  const std::vector<json> values{
      nullptr, false, 0, 127, 128, 255, 256, 65535, 65536, std::numeric_limits<std::uint64_t>::max(),
      -1, -32, -33, -128, -129, -32768, -32769, std::numeric_limits<std::int64_t>::min(),
      0.0, -0.0, 1e300, "", std::string(31, 'a'), std::string(32, 'b'), std::string(70000, 'c'),
      "中文 😀", json::array(), json::array({json::array({json::object()})}),
      json{{"a", json::binary({1, 2, 3})}, {"b", json::binary(std::vector<std::uint8_t>(300, 9), 3)}},
      json(std::vector<int>(20, 1)), json::binary(std::vector<std::uint8_t>(70000, 1)),
  };
  for (const json& v : values) {
    CAPTURE(v.dump().substr(0, 60));
    CHECK(read(msgpack(v)) == v);
    const auto theirs = json::to_msgpack(v);
    CHECK(read(std::string(theirs.begin(), theirs.end())) == v);
  }
  CHECK(read(bytes({0xCA, 0x3F, 0xC0, 0, 0})) == 1.5);  // float 32
}

TEST_CASE("MessagePack: what the reader refuses, and why") {
  CHECK(why_not("") == "truncated");
  CHECK(why_not(bytes({0xC1})) == "the reserved type byte 0xC1");
  CHECK(why_not(bytes({0xC0, 0xC0})) == "1 bytes after the value");
  CHECK(why_not(bytes({0x81, 0x01, 0x01})) == "a map key that is not a string");
  CHECK(why_not(bytes({0xA2, 0xC3, 0x28})) == "a string holds invalid UTF-8");
  CHECK(why_not(bytes({0xDD, 0xFF, 0xFF, 0xFF, 0xFF})).find("an array of 4294967295 elements in 0 bytes") != std::string::npos);
  CHECK(why_not(bytes({0xC6, 0x7F, 0xFF, 0xFF, 0xFF})).find("truncated") == 0);
  CHECK(why_not(bytes({0xD4, 127, 0})) == "an out-of-band reference where none can be");
  CHECK(why_not(std::string(300, '\x91') + '\xC0') == "nesting deeper than 256");
}

TEST_CASE("MessagePack: strings must be UTF-8 and subtype 127 is forkipc's, on the way out too") {
  std::string out;
  CHECK_THROWS_AS(write_msgpack(std::string("\xC3\x28"), out), forkipc::error);
  CHECK_THROWS_AS(write_msgpack(json::binary({1}, 127), out), forkipc::error);
}

TEST_CASE("frames: split anywhere, they decode the same; a bad body is skipped") {
  std::string stream;
  encode_binary_frame(json{{"a", 1}}, stream);
  stream += bytes({0, 0, 0, 1, 0xC1});  // a frame whose body is not MessagePack
  encode_binary_frame(json{{"cmd", "NODE_X"}}, stream);
  encode_binary_frame(json::array({1, 2}), stream);
  for (std::size_t step = 1; step <= stream.size(); ++step) {
    CAPTURE(step);
    binary_frame_decoder decoder(1 << 20);
    std::vector<decoded> got;
    for (std::size_t i = 0; i < stream.size(); i += step) {
      decoder.feed(std::string_view(stream).substr(i, step));
      while (auto d = decoder.next()) got.push_back(std::move(*d));
    }
    REQUIRE(got.size() == 4);
    CHECK(std::get<json>(got[0]) == json{{"a", 1}});
    CHECK(std::get<forkipc::error>(got[1]).code() == forkipc::errc::malformed_message);
    CHECK(std::holds_alternative<internal_message>(got[2]));
    CHECK(std::get<json>(got[3]) == json::array({1, 2}));
    CHECK_FALSE(decoder.finish());
  }
}

TEST_CASE("frames: a length over the limit breaks the decoder, which holds nothing of it") {
  binary_frame_decoder decoder(1000);
  decoder.feed(bytes({0x7F, 0xFF, 0xFF, 0xFF}));
  auto d = decoder.next();
  REQUIRE(d);
  CHECK(std::get<forkipc::error>(*d).code() == forkipc::errc::message_too_large);
  CHECK(decoder.broken());
  decoder.feed(std::string(100, 'x'));  // what still arrives is dropped (a fuzzer's finding)
  CHECK_FALSE(decoder.next());
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("frames: the stream ending inside a frame is reported") {
  binary_frame_decoder decoder(1000);
  decoder.feed(bytes({0, 0, 0, 5, 0x92}));
  CHECK_FALSE(decoder.next());
  const auto end = decoder.finish();
  REQUIRE(end);
  CHECK(end->code() == forkipc::errc::truncated_message);
}

TEST_CASE("shared memory: values go through a reused ring, references come back as the bytes") {
  shm_outbox outbox(100);
  std::deque<unique_fd> fds;
  shm_inbox inbox(fds, 1 << 30);
  binary_frame_decoder decoder(1 << 20, &inbox);
  std::size_t regions = 0;
  for (int round = 0; round < 50; ++round) {
    const json message{{"small", json::binary({1, 2})},
                       {"large", json::binary(std::vector<std::uint8_t>(std::size_t{1} << 20, static_cast<std::uint8_t>(round)))}};
    std::string frame;
    outbox.begin();
    encode_binary_frame(message, frame, &outbox);
    for (unique_fd& fd : outbox.commit()) {
      ++regions;
      fds.push_back(std::move(fd));
    }
    CHECK(frame.size() < 100);  // the large value stayed out of the frame
    CHECK(outbox.in_flight() >= std::size_t{1} << 20);
    decoder.feed(frame);
    auto d = decoder.next();
    REQUIRE(d);
    CHECK(std::get<json>(*d) == message);
    CHECK(outbox.in_flight() == 0);  // read, so released
  }
  CHECK(regions == 1);  // one region, reused fifty times
}

TEST_CASE("shared memory: a value that finds the ring busy goes inline; one too large for it gets a new region") {
  shm_outbox outbox(1);
  std::string reference;
  std::vector<unique_fd> regions;
  const auto spill = [&](std::size_t n) {
    reference.clear();
    outbox.begin();
    const bool spilled = outbox.spill(std::vector<std::uint8_t>(n, 1), reference);
    for (unique_fd& fd : outbox.commit()) regions.push_back(std::move(fd));
    return spilled;
  };
  CHECK(spill(3u << 20));  // the first region: 8 MiB
  CHECK(spill(3u << 20));
  CHECK_FALSE(spill(3u << 20));  // nothing was read, even after a wait: the socket carries it
  CHECK(regions.size() == 1);
  CHECK(spill(5u << 20));  // too large for 8 MiB twice over: a new region
  CHECK(regions.size() == 2);
  CHECK(spill(20u << 20));  // a new region of 40 MiB
  CHECK(spill(20u << 20));
  CHECK(spill(20u << 20));  // busy, but beyond inline_limit: never inline, so a new region
  CHECK(regions.size() == 4);
}

TEST_CASE("shared memory: a rolled-back message leaves the ring as it was") {
  shm_outbox outbox(10);
  outbox.begin();
  std::string frame;
  CHECK_THROWS(encode_binary_frame(json::array({json::binary(std::vector<std::uint8_t>(100)), std::string("\xFF")}), frame, &outbox));
  outbox.rollback();
  CHECK(outbox.in_flight() == 0);
  CHECK(frame.empty());
}

TEST_CASE("shared memory: references the peer never backed are refused") {
  std::deque<unique_fd> fds;
  shm_inbox inbox(fds, 1 << 20);
  json::binary_t out;
  CHECK(inbox.fetch("short", out).value() == "a shared-memory reference of 5 bytes");
  const std::string new_region = bytes({0, 0, 0, 1}) + std::string(24, '\0');
  CHECK(inbox.fetch(new_region, out).value().find("came without it") != std::string::npos);
  // A descriptor that is not a sealed memfd: a socket.
  int pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
  ::close(pair[1]);
  fds.emplace_back(pair[0]);
  CHECK(inbox.fetch(new_region, out).value().find("not a memfd sealed") != std::string::npos);
  CHECK(fds.empty());  // consumed and closed
  // A reference past the end of a real region.
  shm_outbox outbox(1);
  std::string reference;
  outbox.begin();
  REQUIRE(outbox.spill(std::vector<std::uint8_t>(10, 1), reference));
  for (unique_fd& fd : outbox.commit()) fds.push_back(std::move(fd));
  std::string beyond = reference;
  beyond[4] = '\x7F';  // the offset's top byte
  CHECK(inbox.fetch(beyond, out).value().find("beyond its region") != std::string::npos);
  CHECK_FALSE(inbox.fetch(reference, out));
  CHECK(out == json::binary_t(std::vector<std::uint8_t>(10, 1)));
}

TEST_CASE("shared memory: at most max_message_size bytes are fetched per message") {
  shm_outbox outbox(1);
  std::deque<unique_fd> fds;
  shm_inbox inbox(fds, 1000);
  binary_frame_decoder decoder(1 << 20, &inbox);
  std::string frame;
  outbox.begin();
  encode_binary_frame(json::array({json::binary(std::vector<std::uint8_t>(600)), json::binary(std::vector<std::uint8_t>(600))}), frame, &outbox);
  for (unique_fd& fd : outbox.commit()) fds.push_back(std::move(fd));
  decoder.feed(frame);
  auto d = decoder.next();
  REQUIRE(d);
  const auto& problem = std::get<forkipc::error>(*d);
  CHECK(std::string(problem.what()).find("more than the limit of 1000 bytes in one message") != std::string::npos);
}
