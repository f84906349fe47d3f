// serialization::binary against real children: values, raw bytes, the shared-memory path, limits.
#include "support.hpp"

#include <dirent.h>
#include <signal.h>

#include <cmath>
#include <cstddef>
#include <fstream>
#include <limits>
#include <span>
#include <variant>

using forkipc::json;
using test::helper;
using test::recorder;
using namespace std::chrono_literals;

namespace {

const forkipc::fork_options binary{.serialization = forkipc::serialization::binary};

json::binary_t bytes_of(std::size_t size, unsigned seed) {
  std::vector<std::uint8_t> bytes(size);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : bytes) {
    x = x * 1664525u + 1013904223u;  // every byte value turns up, in no simple pattern
    b = static_cast<std::uint8_t>(x >> 24);
  }
  return json::binary_t(std::move(bytes));
}

// The entries of /dev/shm that could be forkipc's.
std::vector<std::string> shm_entries() {
  std::vector<std::string> names;
  if (DIR* dir = ::opendir("/dev/shm")) {
    while (const dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name.find("forkipc") != std::string::npos) names.push_back(name);
    }
    ::closedir(dir);
  }
  return names;
}

// How many mappings of large-value rings (shared memory named forkipc-ring) process pid has.
std::size_t mapped_rings(pid_t pid) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);)
    if (test::is_forkipc_shared_memory(line, "forkipc-ring")) ++n;
  return n;
}

}  // namespace

TEST_CASE("binary: every kind of JSON value makes the round trip, through both child APIs") {
  test::check_round_trips(helper("echo_async"), test::every_kind_of_value(), binary);
  test::check_round_trips(helper("echo_sync"), test::every_kind_of_value(), binary);
}

TEST_CASE("binary: bytes arrive bit-exact, inline and through shared memory") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"), {}, binary);
  recorder seen(*child);
  const auto round_trip = [&](const std::vector<json>& values) {
    const std::size_t before = seen.messages.size();
    for (const json& v : values) child->send(v);
    test::run_until(io, [&] { return seen.messages.size() == before + values.size() || seen.closed(); });
    for (std::size_t i = 0; i < values.size(); ++i) CHECK(seen.messages.at(before + i) == values[i]);
  };
  // Below the threshold (1 MiB): inline in the frames, and no ring is made.
  round_trip({json::binary({}), json::binary({0x00, 0xFF, 0x0A, 0x22, 0x5C}),
              json::binary({1, 2, 3}, 42),  // a subtype survives
              json{{"inline", bytes_of(1000, 1)}, {"n", 1}},
              json{{"just below the threshold", bytes_of((1u << 20) - 1, 2)}}});
  CHECK(mapped_rings(::getpid()) == 0);
  CHECK(mapped_rings(child->pid()) == 0);
  // From the threshold on: through the ring each side makes for what it sends, and maps from
  // the other (the values also stream, being larger than the free ring at times).
  round_trip({json{{"at the threshold", bytes_of(1u << 20, 3)}},
              json{{"two", json::array({bytes_of(3u << 20, 4), bytes_of(5u << 20, 5)})}},
              json{{"streamed", bytes_of(20u << 20, 6)}}});
  CHECK(mapped_rings(::getpid()) == 2);  // its own and the child's
  CHECK(mapped_rings(child->pid()) == 2);
  CHECK(seen.errors.empty());
  child->disconnect();
  test::run_to_end(io);
}

TEST_CASE("binary: a 64 MiB payload makes the round trip bit-exact, through both child APIs") {
  const json::binary_t payload = bytes_of(64u << 20, 6);
  test::check_round_trips(helper("echo_async"), {json::binary(payload)}, binary);
  test::check_round_trips(helper("echo_sync"), {json::binary(payload)}, binary);
}

TEST_CASE("binary: large values streamed both ways at once all arrive, bit-exact") {
  // Sent back to back: while the parent streams one value, the child streams the echo of the
  // one before, and neither reads until its send is done. Each gives up on the ring after a
  // moment and finishes through the value's overflow file, so both go on.
  std::vector<json> values;
  for (unsigned i = 0; i < 6; ++i) values.push_back(json{{"i", i}, {"bytes", bytes_of(20u << 20, 10 + i)}});
  test::check_round_trips(helper("echo_async"), values, binary);
  test::check_round_trips(helper("echo_sync"), values, binary);
}

TEST_CASE("binary: a large value streamed just before the child ends arrives whole") {
  for (const char* how : {"return", "exit", "disconnect", "sync", "handler"}) {
    CAPTURE(how);
    boost::asio::io_context io;
    auto child = test::fork(io, helper("last_words"), {how, "binary"}, binary);
    recorder seen(*child);
    test::run_to_end(io);
    CHECK(seen.errors.empty());
    REQUIRE(seen.messages.size() == 2);
    CHECK(seen.messages[0] == json::binary(std::vector<std::uint8_t>(20u << 20, 'w')));
    CHECK(seen.messages[1] == json{{"last", true}});
    CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
  }
}

TEST_CASE("binary: shared-memory values count toward max_message_size, per message") {
  forkipc::fork_options options = binary;
  options.max_message_size = 17u << 20;
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"), {}, options);
  recorder seen(*child);
  child->send(json{{"one", bytes_of(16u << 20, 7)}});                              // fits
  child->send(json::array({bytes_of(9u << 20, 8), bytes_of(9u << 20, 9)}));     // 18 MiB: refused
  child->send("after");
  test::run_until(io, [&] { return seen.messages.size() == 2 || seen.closed(); });
  child->disconnect();
  test::run_to_end(io);
  REQUIRE(seen.messages.size() == 2);
  CHECK(seen.messages[0]["one"].get_binary().size() == 16u << 20);
  CHECK(seen.messages[1] == "after");
  REQUIRE(seen.errors.size() == 1);
  CHECK(seen.errors[0].code() == forkipc::errc::message_too_large);
  CHECK(std::string(seen.errors[0].what()).find("in one message") != std::string::npos);
}

TEST_CASE("binary: a child takes values over 64 MiB once it raises its own max_message_size") {
  const json big = json::binary(bytes_of(80u << 20, 20));
  forkipc::fork_options options = binary;
  options.max_message_size = 128u << 20;  // the parent's end, for the echo
  for (const char* program : {"echo_async", "echo_sync"}) {
    CAPTURE(program);
    boost::asio::io_context io;
    auto child = test::fork(io, helper(program), {std::to_string(128u << 20)}, options);
    recorder seen(*child);
    child->send(big);
    test::run_until(io, [&] { return seen.messages.size() == 1 || seen.closed(); });
    child->disconnect();
    test::run_to_end(io);
    REQUIRE(seen.messages.size() == 1);
    CHECK(seen.messages[0] == big);
    CHECK(seen.errors.empty());
  }
  // With the default of 64 MiB, the child drops it (an "error" on its side) and goes on.
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"), {}, options);
  recorder seen(*child);
  child->send(big);
  child->send("after");
  test::run_until(io, [&] { return !seen.messages.empty() || seen.closed(); });
  child->disconnect();
  test::run_to_end(io);
  CHECK(seen.messages == std::vector<json>{"after"});
}

TEST_CASE("binary: doubles travel exactly, NaN and infinities included") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"), {}, binary);
  recorder seen(*child);
  const double values[] = {std::nan(""), std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(), 0.1, -0.0, 5e-324};
  for (double v : values) child->send(v);
  test::run_until(io, [&] { return seen.messages.size() == std::size(values) || seen.closed(); });
  child->disconnect();
  test::run_to_end(io);
  REQUIRE(seen.messages.size() == std::size(values));
  CHECK(std::isnan(seen.messages[0].get<double>()));
  for (std::size_t i = 1; i < std::size(values); ++i) {
    CHECK(seen.messages[i].get<double>() == values[i]);
    CHECK(std::signbit(seen.messages[i].get<double>()) == std::signbit(values[i]));
  }
}

TEST_CASE("binary: a frame over max_message_size is an error and closes the channel") {
  forkipc::fork_options options = binary;
  options.max_message_size = 1024;
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"), {}, options);
  recorder seen(*child);
  child->send(std::string(4096, 'x'));  // the child takes it; its echo is too long for us
  child->send("never answered");
  test::run_to_end(io);
  REQUIRE(seen.errors.size() == 1);
  CHECK(seen.errors[0].code() == forkipc::errc::message_too_large);
  CHECK(std::string(seen.errors[0].what()).find("cannot skip it safely") != std::string::npos);
  CHECK(seen.messages.empty());
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
}

TEST_CASE("binary: a Node child refuses the mode at start-up instead of misreading bytes") {
  boost::asio::io_context io;
  forkipc::fork_options options = binary;
  options.exec_path = "node";
  options.silent = true;  // Node's complaint goes to a captured stderr
  auto child = forkipc::fork(io, test::script("echo.js"), {}, options);
  recorder seen(*child);
  child->send({{"hello", 1}});
  test::run_to_end(io);
  CHECK(seen.messages.empty());
  CHECK(child->exit_code().value_or(0) != 0);
  CHECK(seen.closes == 1);
}

TEST_CASE("binary: a child SIGKILLed mid-transfer leaves no region, descriptor or process") {
  const auto fds_before = test::open_fds();
  const auto entries_before = shm_entries();
  for (int round = 0; round < 5; ++round) {
    boost::asio::io_context io;
    auto child = test::fork(io, helper("echo_async"), {}, binary);
    recorder seen(*child);
    for (int i = 0; i < 4; ++i) child->send(json{{"big", bytes_of(8u << 20, round)}});
    test::run_until(io, [&] { return !seen.messages.empty() || seen.closed(); });
    child->kill(SIGKILL);  // with more echoes in flight
    test::run_to_end(io);
    CHECK(seen.closes == 1);
  }
  CHECK(test::open_fds() == fds_before);
  CHECK(test::child_pids().empty());
  CHECK(shm_entries() == entries_before);
}

TEST_CASE("binary: nothing of forkipc's is ever in /dev/shm, while its shared memory is in use too") {
  const auto before = shm_entries();
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"), {}, binary);
  recorder seen(*child);
  child->send(json{{"big", bytes_of(8u << 20, 7)}});
  test::run_until(io, [&] { return !seen.messages.empty() || seen.closed(); });
  REQUIRE(mapped_rings(::getpid()) > 0);  // shared memory is in use now, with no name
  CHECK(shm_entries() == before);
  child->kill(SIGKILL);
  test::run_to_end(io);
  CHECK(shm_entries() == before);
}

namespace {

std::vector<std::byte> as_std_bytes(const json::binary_t& bytes) {
  const auto* first = reinterpret_cast<const std::byte*>(bytes.data());
  return {first, first + bytes.size()};
}

}  // namespace

TEST_CASE("send_bytes: frames come back whole, in order with messages, through both child APIs") {
  // Sizes on both sides of the ring's and the read buffer's edges, the empty frame included.
  const std::vector<std::size_t> sizes{0, 1, 16, 4095, 64 * 1024 + 7, 3u << 20};
  for (const char* program : {"echo_async", "echo_sync"}) {
    CAPTURE(program);
    boost::asio::io_context io;
    auto child = test::fork(io, helper(program), {}, binary);
    std::vector<std::string> order;  // "m<i>" for a message, "b<size>" for bytes
    std::vector<std::vector<std::byte>> frames;
    child->on("message", [&](const json& m) { order.push_back("m" + std::to_string(m["i"].get<int>())); });
    child->on("bytes", [&](std::span<const std::byte> bytes) {
      order.push_back("b" + std::to_string(bytes.size()));
      frames.emplace_back(bytes.begin(), bytes.end());
    });
    std::vector<std::string> expected;
    std::vector<std::vector<std::byte>> sent;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      sent.push_back(as_std_bytes(bytes_of(sizes[i], static_cast<unsigned>(i))));
      child->send_bytes(sent.back());
      child->send({{"i", i}});
      expected.push_back("b" + std::to_string(sizes[i]));
      expected.push_back("m" + std::to_string(i));
    }
    test::run_until(io, [&] { return order.size() == expected.size(); });
    CHECK(order == expected);
    CHECK(frames == sent);
    child->disconnect();
    test::run_to_end(io);
  }
}

TEST_CASE("send_bytes: sync::child sends bytes and receive_any returns them; receive makes them a binary value") {
  test::sync_child child(helper("echo_sync"), {}, binary);
  const auto sent = as_std_bytes(bytes_of(100, 7));
  child.send_bytes(sent);
  auto received = child.receive_any(30s);
  REQUIRE(received);
  const auto* bytes = std::get_if<std::span<const std::byte>>(&*received);
  REQUIRE(bytes != nullptr);
  CHECK(std::vector<std::byte>(bytes->begin(), bytes->end()) == sent);

  child.send_bytes(sent);
  auto as_message = child.receive(30s);
  REQUIRE(as_message);
  CHECK(*as_message == json::binary(bytes_of(100, 7)));

  child.send({{"a", 1}});
  received = child.receive_any(30s);
  REQUIRE(received);
  CHECK(std::get<json>(*received) == json{{"a", 1}});
}

TEST_CASE("send_bytes is refused in json serialization, with a clear error, and nothing is sent") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"));
  const std::byte payload[3]{};
  try {
    child->send_bytes(payload);
    FAIL("send_bytes did not throw");
  } catch (const forkipc::error& e) {
    CHECK(e.code() == forkipc::errc::unsupported_serialization);
    CHECK(std::string(e.what()).find("serialization::binary") != std::string::npos);
  }
  test::sync_child sync(helper("echo_sync"));
  CHECK_THROWS_AS(sync.send_bytes(payload), forkipc::error);
  recorder seen(*child);
  child->send({{"after", true}});
  test::run_until(io, [&] { return !seen.messages.empty(); });
  CHECK(seen.messages == std::vector<json>{{{"after", true}}});
  child->disconnect();
  test::run_to_end(io);
}

TEST_CASE("a bytes listener cannot listen to messages, nor a message listener to bytes") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"), {}, binary);
  CHECK_THROWS_AS(child->on("message", [](std::span<const std::byte>) {}), std::invalid_argument);
  CHECK_THROWS_AS(child->on("bytes", [](const json&) {}), std::invalid_argument);
  CHECK_NOTHROW(child->on("bytes", [](std::span<const std::byte>) {}));
  CHECK_NOTHROW(child->on("bytes", [] {}));
  child->disconnect();
  test::run_to_end(io);
}
