// The large values of binary serialization (channel/large_values): through the shared-memory
// ring or files beside it, between an outbox and an inbox in this process, without a socket.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "channel/large_values.hpp"
#include "codec/binary_frames.hpp"

using forkipc::json;
using namespace forkipc::detail;

namespace {

std::string bytes(std::initializer_list<unsigned> values) {
  std::string out;
  for (unsigned v : values) out.push_back(static_cast<char>(v));
  return out;
}

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
  // A descriptor that is not shared memory: a socket.
  int sockets[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) == 0);
  ::close(sockets[1]);
  fds.add(message, unique_fd(sockets[0]));
  const bool linux_backend = std::string_view(FORKIPC_PLATFORM) == "linux";
  CHECK(inbox.fetch(new_ring, out).value().find(linux_backend ? "passed a shared-memory ring, but it is not a memfd"
                                                              : "passed a shared-memory ring, but it is a socket") !=
        std::string::npos);
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
