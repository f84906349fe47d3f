// The binary codec, byte by byte, without any I/O: MessagePack, and its length-prefixed frames.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "codec/binary_frames.hpp"

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
  const auto problem = read_msgpack(bytes, out);
  REQUIRE_MESSAGE(!problem, problem->why);
  return out;
}

std::string why_not(std::string_view bytes) {
  json out;
  const auto problem = read_msgpack(bytes, out);
  REQUIRE(problem);
  return problem->why;
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
  CHECK(why_not(std::string(5001, '\x91') + '\xC0') == "nested more than 5000 levels deep (max_nesting_depth)");
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

TEST_CASE("frames: nesting deeper than max_nesting_depth is an error, the next frame decodes, and writing refuses it") {
  binary_frame_decoder decoder(std::size_t{64} << 20, nullptr, 300);
  const auto deep_maps = [](std::size_t depth) {
    std::string body;
    for (std::size_t i = 0; i < depth; ++i) body += "\x81\xA1" "a";
    return body + '\x01';
  };
  const auto framed = [](const std::string& body) {
    std::string frame(4, '\0');
    for (int i = 0; i < 4; ++i) frame[i] = static_cast<char>(body.size() >> (8 * (3 - i)));
    return frame + body;
  };
  decoder.feed(framed(std::string(300, '\x91') + '\x01') + framed(std::string(301, '\x91') + '\x01') +
               framed(std::string(1'000'000, '\x91') + '\x01') + framed(deep_maps(200'000)) +
               framed("\x81\xA1n\x05"));
  auto first = decoder.next();
  REQUIRE(first);
  CHECK(std::get<json>(*first).is_array());
  for (int i = 0; i < 3; ++i) {
    auto d = decoder.next();
    REQUIRE(d);
    const auto& problem = std::get<forkipc::error>(*d);
    CHECK(problem.code() == forkipc::errc::nesting_too_deep);
    CHECK(std::string(problem.what()).find("nested more than 300 levels deep") != std::string::npos);
  }
  auto next = decoder.next();
  REQUIRE(next);
  CHECK(std::get<json>(*next) == json{{"n", 5}});

  json deep = 0;
  for (int i = 0; i < 1'000'000; ++i) deep = json::array({std::move(deep)});
  std::string out;
  CHECK_THROWS_AS(encode_binary_frame(deep, out), forkipc::error);
  CHECK(out.empty());
}
