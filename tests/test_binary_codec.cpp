// The binary codec (MessagePack in length-prefixed frames) and the shared-memory ring, without
// a channel.
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
#include "channel/large_values.hpp"

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

namespace {

// One end of a channel's shared-memory path each, as a channel_codec holds them, without the
// socket: encode() returns the frame and hands its descriptors to the receiving side.
struct shm_pair {
  shm_outbox outbox;
  forkipc::detail::received_descriptors fds;
  std::uint64_t stream_end = 0;  // frames are decoded in the order they were encoded
  shm_inbox inbox;
  binary_frame_decoder decoder;
  std::size_t descriptors = 0;

  explicit shm_pair(std::size_t threshold, std::size_t max_message_size = std::size_t{1} << 30)
      : outbox(threshold), inbox(fds, max_message_size), decoder(max_message_size, &inbox) {}

  std::string encode(const json& message) {
    std::string frame;
    outbox.begin();
    encode_binary_frame(message, frame, &outbox);
    // The descriptors come with the frame's first byte.
    const forkipc::detail::stream_span span{stream_end, stream_end + frame.size()};
    stream_end = span.end;
    for (unique_fd& fd : outbox.commit()) {
      ++descriptors;
      fds.add(span, std::move(fd));
    }
    return frame;
  }

  json decode(std::string_view frame) {
    decoder.feed(frame);
    auto d = decoder.next();
    REQUIRE(d);
    const auto* problem = std::get_if<forkipc::error>(&*d);
    REQUIRE_MESSAGE(problem == nullptr, problem->what());
    return std::get<json>(*d);
  }
};

json::binary_t pattern(std::size_t size, unsigned seed) {
  std::vector<std::uint8_t> out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>((i * 31 + seed) ^ (i >> 12));
  return json::binary_t(std::move(out));
}

}  // namespace

TEST_CASE("shared memory: values go through a reused ring, references come back as the bytes") {
  shm_pair pair(100);
  for (int round = 0; round < 50; ++round) {
    const json message{{"small", json::binary({1, 2})}, {"large", json::binary(pattern(std::size_t{1} << 20, round))}};
    const std::string frame = pair.encode(message);
    CHECK_FALSE(pair.outbox.streaming());  // it fitted in the ring's free space
    CHECK(frame.size() < 100);             // the large value stayed out of the frame
    CHECK(pair.outbox.in_flight() >= std::size_t{1} << 20);
    CHECK(pair.decode(frame) == message);
    CHECK(pair.outbox.in_flight() == 0);  // read, so released
  }
  CHECK(pair.descriptors == 1);  // one ring, reused fifty times
}

TEST_CASE("shared memory: a value larger than the ring streams through it while the receiver reads") {
  shm_pair pair(1);
  const json message = json::array({json::binary(pattern(std::size_t{40} << 20, 1)), json::binary(pattern(std::size_t{3} << 20, 2))});
  const std::string frame = pair.encode(message);
  REQUIRE(pair.outbox.streaming());
  CHECK(pair.descriptors == 3);  // the ring, and an overflow file for each streamed value
  std::thread sender([&] { pair.outbox.stream(true); });
  const json received = pair.decode(frame);
  sender.join();
  // Bit-exact whichever way each byte came: through the ring, or (had the receiving thread
  // stalled for longer than the sender's patience) through the overflow files.
  CHECK(received == message);
  CHECK(pair.outbox.in_flight() == 0);
}

TEST_CASE("shared memory: a receiver that does not read makes the sender abandon the ring for the overflow files") {
  shm_pair pair(1);
  const json first = json::array({json::binary(pattern(std::size_t{20} << 20, 3)), json::binary(pattern(std::size_t{2} << 20, 4))});
  const std::string frame = pair.encode(first);
  const auto started = std::chrono::steady_clock::now();
  pair.outbox.stream(true);  // nobody reads: the ring fills, and after the patience the rest goes to the files
  CHECK(std::chrono::steady_clock::now() - started >= shm_outbox::patience);
  CHECK(pair.outbox.in_flight() == (std::size_t{22} << 20));

  // Until the receiver has read past that message, the sender does not stream: a small value
  // goes inline, a large one whole in a file of its own.
  const json small = json::binary(pattern(std::size_t{1} << 20, 5));
  const json large = json::binary(pattern(std::size_t{5} << 20, 6));
  const std::string small_frame = pair.encode(small);
  CHECK(small_frame.size() > (std::size_t{1} << 20));
  const std::string large_frame = pair.encode(large);
  CHECK_FALSE(pair.outbox.streaming());
  CHECK(pair.descriptors == 4);  // ring, two overflow files, the large value's own file

  CHECK(pair.decode(frame) == first);  // 8 MiB from the ring, the rest from the files
  CHECK(pair.decode(small_frame) == small);
  CHECK(pair.decode(large_frame) == large);
  CHECK(pair.outbox.in_flight() == 0);
  CHECK(pair.fds.size() == 0);

  // Caught up: the ring streams again.
  const json again = json::binary(pattern(std::size_t{1} << 20, 7));
  const std::string again_frame = pair.encode(again);
  CHECK(again_frame.size() < 100);
  CHECK(pair.decode(again_frame) == again);
}

TEST_CASE("shared memory: a receiver waiting for a streamed value gives up when the sender hangs up") {
  shm_pair pair(1);
  const std::string frame = pair.encode(json::binary(pattern(std::size_t{20} << 20, 8)));
  REQUIRE(pair.outbox.streaming());
  int sockets[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) == 0);
  const unique_fd receiving(sockets[0]);
  pair.inbox.watch(receiving.get());
  ::close(sockets[1]);  // the sender is gone before it streamed a byte
  pair.decoder.feed(frame);
  auto d = pair.decoder.next();
  REQUIRE(d);
  const auto* problem = std::get_if<forkipc::error>(&*d);
  REQUIRE(problem != nullptr);
  CHECK(std::string(problem->what()).find("hung up in the middle of a shared-memory value") != std::string::npos);
  pair.outbox.discard_stream();
}

TEST_CASE("shared memory: a rolled-back message leaves the ring as it was") {
  shm_pair pair(10);
  std::string frame;
  pair.outbox.begin();
  CHECK_THROWS(encode_binary_frame(json::array({json::binary(std::vector<std::uint8_t>(100)), std::string("\xFF")}), frame, &pair.outbox));
  pair.outbox.rollback();
  CHECK(pair.outbox.in_flight() == 0);
  CHECK(frame.empty());
  // The ring created for that message was dropped with it: the next message brings one.
  const json message = json::binary(std::vector<std::uint8_t>(100, 9));
  CHECK(pair.decode(pair.encode(message)) == message);
  CHECK(pair.descriptors == 1);
}

TEST_CASE("shared memory: references the peer never backed are refused") {
  forkipc::detail::received_descriptors fds;
  shm_inbox inbox(fds, 1 << 20);
  const forkipc::detail::stream_span message{0, 100};  // where the references are, in the stream
  inbox.begin_message(message);
  json::binary_t out;
  CHECK(inbox.fetch("short", out).value() == "a shared-memory reference of 5 bytes");
  const std::string new_ring = bytes({0, 0, 0, 0, 1}) + std::string(16, '\0');
  CHECK(inbox.fetch(new_ring, out).value().find("came without it") != std::string::npos);
  std::string unknown_kind = new_ring;
  unknown_kind[0] = '\x07';
  CHECK(inbox.fetch(unknown_kind, out).value() == "a shared-memory reference of unknown kind 7");
  // A descriptor that is not a sealed memfd: a socket.
  int sockets[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) == 0);
  ::close(sockets[1]);
  fds.add(message, unique_fd(sockets[0]));
  CHECK(inbox.fetch(new_ring, out).value().find("passed a shared-memory ring, but it is not a memfd") != std::string::npos);
  CHECK(fds.size() == 0);  // consumed and closed
  // A reference past what the peer wrote to a real ring.
  shm_outbox outbox(1);
  std::string reference;
  outbox.begin();
  REQUIRE(outbox.spill(std::vector<std::uint8_t>(10, 1), reference));
  for (unique_fd& fd : outbox.commit()) fds.add(message, std::move(fd));
  std::string beyond = reference;
  beyond[13] = '\x7F';  // the size's top byte
  CHECK(inbox.fetch(beyond, out).value().find("beyond what the peer has written") != std::string::npos);
  CHECK_FALSE(inbox.fetch(reference, out));
  CHECK(out == json::binary_t(std::vector<std::uint8_t>(10, 1)));
  // A streamed value without its overflow file.
  std::string streamed = reference;
  streamed[0] = '\x01';
  CHECK(inbox.fetch(streamed, out).value() == "a shared-memory value that came without its file");
}

TEST_CASE("shared memory: at most max_message_size bytes are fetched per message, and the rest is skipped in step") {
  shm_pair pair(1, 1000);
  const std::string frame = pair.encode(json::array({json::binary(std::vector<std::uint8_t>(600)), json::binary(std::vector<std::uint8_t>(600))}));
  pair.decoder.feed(frame);
  auto d = pair.decoder.next();
  REQUIRE(d);
  const auto& problem = std::get<forkipc::error>(*d);
  CHECK(problem.code() == forkipc::errc::message_too_large);
  CHECK(std::string(problem.what()).find("more than the limit of 1000 bytes in one message") != std::string::npos);
  CHECK(pair.outbox.in_flight() == 0);  // the refused value's space is the sender's again
  const json next = json::binary(std::vector<std::uint8_t>(700, 3));
  CHECK(pair.decode(pair.encode(next)) == next);
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

TEST_CASE("received descriptors: a message takes only those that came with its bytes; the rest are closed once it is done") {
  using forkipc::detail::received_descriptors;
  using forkipc::detail::stream_span;
  const auto null_fd = [] { return unique_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); };
  received_descriptors fds;
  // One read brought the end of message A [0, 10) and all of B [10, 20), with two descriptors
  // (B's, sent with its first byte: the kernel joins the writes into one read).
  fds.add({5, 20}, null_fd());
  fds.add({5, 20}, null_fd());
  CHECK_FALSE(fds.take({20, 30}));  // C came after that read: not C's
  fds.settle(10);                   // A is done: the read went past it, so B may still take them
  CHECK(fds.size() == 2);
  CHECK(fds.take({10, 20}));
  fds.settle(20);                   // B is done: the one it did not take is closed
  CHECK(fds.size() == 0);
  auto closed = fds.take_closed();
  CHECK(closed.closed == 1);
  CHECK_FALSE(closed.truncated);
  CHECK_FALSE(fds.take_closed());
  // More than can be held are closed as they come.
  for (std::size_t i = 0; i < received_descriptors::max_held + 3; ++i) fds.add({30, 31}, null_fd());
  CHECK(fds.size() == received_descriptors::max_held);
  fds.add_truncated();
  fds.settle(31);
  closed = fds.take_closed();
  CHECK(closed.closed == received_descriptors::max_held + 3);
  CHECK(closed.truncated);
}
