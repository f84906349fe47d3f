// serialization::advanced (Node's "advanced": V8's value format) with real processes: a Node
// parent and forkipc children, a forkipc parent and Node children, forkipc on both ends, and
// pools. The codec's bytes are test_advanced_codec.cpp's.
#include "support.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using forkipc::json;
using test::helper;
using test::recorder;
namespace advanced = forkipc::advanced;
using advanced::binary_kind;

namespace {

const forkipc::fork_options in_advanced{.serialization = forkipc::serialization::advanced};
const forkipc::fork_options node_in_advanced{.exec_path = "node", .serialization = forkipc::serialization::advanced};

json bytes_of(binary_kind kind, std::vector<std::uint8_t> bytes) { return advanced::binary(kind, bytes); }

// Every form the mapping has (docs/from-node.md), and JSON's own values as far as JavaScript's
// numbers carry them.
std::vector<json> every_advanced_value() {
  std::vector<json> values;
  for (const json& v : test::every_kind_of_value()) {
    // Integers past 2^53 travel as doubles, as in JavaScript ({"$bigint"} is exact).
    constexpr std::int64_t two_to_53 = std::int64_t{1} << 53;
    const bool exact = !v.is_number_integer() ||
                       (v.is_number_unsigned() ? v.get<std::uint64_t>() <= std::uint64_t{two_to_53}
                                               : v.get<std::int64_t>() >= -two_to_53 && v.get<std::int64_t>() <= two_to_53);
    if (exact) values.push_back(v);
  }
  const std::vector<json> forms = {
      "caf\xC3\xA9 \xC3\xBF",                    // Latin-1: V8's one-byte form
      "\xED\xA0\x80 and \xED\xBF\xBF",           // lone surrogates, in WTF-8
      std::string(100000, 'a') + "\xE2\x82\xAC",  // a long two-byte string
      advanced::undefined(),
      json::array({1, advanced::hole(), advanced::undefined()}),
      json{{"$array", {{"items", {1, 2}}, {"properties", {{"foo", "x"}}}}}},
      advanced::bigint("-340282366920938463463374607431768211457"),
      advanced::bigint(0),
      advanced::date(1700000000123),
      advanced::date(-1),
      advanced::regexp("ab+c", "gi"),
      advanced::map({{1, "one"}, {"1", "string one"}, {advanced::map(), advanced::set({advanced::undefined()})}}),
      advanced::set({1, "1", json::object()}),
      json{{"$error", {{"name", "TypeError"}, {"message", "boom"}, {"stack", "TypeError: boom"},
                       {"cause", {{"$error", {{"message", "inner"}}}}}}}},
      json{{"$boxed", 1.5}},
      json{{"$boxed", "s"}},
      json{{"$boxed", false}},
      json{{"$boxed", advanced::bigint(12)}},
      json{{"$object", {{"$date", 1}}}},
      json{{"$object", {{"$object", {{"$object", {{"$map", 2}}}}}}}},  // JavaScript's {$object: {$map: 2}}
      json::binary({0, 1, 255}),
      json::binary(std::vector<std::uint8_t>(8 << 20, 0xA5)),  // 8 MiB
      bytes_of(binary_kind::int8_array, {0x80}),
      bytes_of(binary_kind::uint8_clamped_array, {1, 2}),
      bytes_of(binary_kind::int16_array, {1, 2}),
      bytes_of(binary_kind::uint32_array, {1, 2, 3, 4}),
      bytes_of(binary_kind::float64_array, {0, 0, 0, 0, 0, 0, 0xF8, 0x3F}),
      bytes_of(binary_kind::bigint64_array, std::vector<std::uint8_t>(16, 0xFF)),
      bytes_of(binary_kind::data_view, {9}),
      bytes_of(binary_kind::array_buffer, {7, 7}),
      bytes_of(binary_kind::float16_array, {0, 0x3C}),
  };
  values.insert(values.end(), forms.begin(), forms.end());
  return values;
}

}  // namespace

TEST_CASE("forkipc parent and children in advanced: every form makes the round trip") {
  const auto values = every_advanced_value();
  SUBCASE("an async child") { test::check_round_trips(helper("echo_async"), values, in_advanced); }
  SUBCASE("a sync::parent child") { test::check_round_trips(helper("echo_sync"), values, in_advanced); }
  SUBCASE("NaN and -0 keep what they are") {
    boost::asio::io_context io;
    auto child = test::fork(io, helper("echo_async"), {}, in_advanced);
    recorder seen(*child);
    child->send(json::array({std::numeric_limits<double>::quiet_NaN(), -0.0, 1.0, 2.5e-300}));
    test::run_until(io, [&] { return !seen.messages.empty() || seen.closed(); });
    child->disconnect();
    test::run_to_end(io);
    REQUIRE(seen.messages.size() == 1);
    const json& got = seen.messages[0];
    CHECK(std::isnan(got[0].get<double>()));
    CHECK((got[1].is_number_float() && std::signbit(got[1].get<double>())));
    CHECK(got[2].is_number_integer());  // 1.0 is an integer JavaScript holds: it reads as one
    CHECK(got[3] == 2.5e-300);
  }
}

TEST_CASE("advanced: what cannot be encoded throws and sends nothing; send_bytes needs binary") {
  boost::asio::io_context io;
  auto child = test::fork(io, helper("echo_async"), {}, in_advanced);
  recorder seen(*child);
  for (const json& bad : {json("\xC0\xAF"), json{{"$bigint", "x"}}, json::binary({1}, 200), advanced::hole()}) {
    try {
      child->send(bad);
      FAIL("sent " << bad.dump(-1, ' ', false, json::error_handler_t::replace));
    } catch (const forkipc::error& e) {
      CHECK(e.code() == forkipc::errc::unencodable_message);
    }
  }
  const std::byte raw[] = {std::byte{1}};
  try {
    child->send_bytes(raw);
    FAIL("send_bytes in advanced serialization");
  } catch (const forkipc::error& e) {
    CHECK(e.code() == forkipc::errc::unsupported_serialization);
  }
  child->send(advanced::map({{"still", "works"}}));
  test::run_until(io, [&] { return !seen.messages.empty() || seen.closed(); });
  child->disconnect();
  test::run_to_end(io);
  CHECK(seen.messages == std::vector<json>{advanced::map({{"still", "works"}})});
  CHECK(seen.errors.empty());
}

TEST_CASE("Node parent, forkipc child, advanced: every structured-clone value comes back deep-equal") {
  // "fork" puts the channel on fd 3, "spawn" on fd 4 (see cpp_child.js).
  for (const std::string how : {"fork", "spawn"}) {
    for (const std::string api : {"async", "sync"}) {
      CAPTURE(how);
      CAPTURE(api);
      const json report = test::node_parent_report("advanced_parent.js", {how, helper("interop_child"), api});
      CHECK(report["mismatches"] == json::array());
      CHECK(report["answers"] == report["sent"]);
      CHECK(report["sent"].get<int>() > 90);
      CHECK(report["hello"]["before"]["NODE_CHANNEL_SERIALIZATION_MODE"] == "advanced");
      // A cyclic value: an error in the child (which it reports), and the channel goes on.
      const json& cyclic = report["cyclic"];
      CHECK(cyclic["code"] == static_cast<int>(forkipc::errc::malformed_message));
      const std::string what = cyclic.value("error", "");
      CHECK_MESSAGE(what.find("a cyclic value") != std::string::npos, what);
      CHECK(report["after"] == json{{"after", "the cyclic one"}});
      CHECK(report["events"] == json::array({"spawn", "disconnect", "exit 0 null"}));
    }
  }
}

TEST_CASE("forkipc parent, Node child, advanced: Buffers, Maps, BigInts and Dates both ways") {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, test::script("advanced_child.js"), {}, node_in_advanced);
  recorder seen(*child);
  test::run_until(io, [&] { return !seen.messages.empty() || seen.closed(); });
  REQUIRE(!seen.messages.empty());
  // What Node made, as forkipc reads it.
  const json from_node = seen.messages[0];  // a copy: more messages come
  CHECK(from_node["buffer"] == json::binary({1, 2, 3}));
  CHECK_FALSE(from_node["buffer"].get_binary().has_subtype());
  CHECK(from_node["map"] == advanced::map({{"a", 1}, {2, "b"}}));
  CHECK(from_node["big"] == advanced::bigint("1180591620717411303424"));
  CHECK(from_node["negative"] == advanced::bigint("-18446744073709551617"));
  CHECK(from_node["date"] == advanced::date(0));
  CHECK(from_node["u16"] == bytes_of(binary_kind::uint16_array, {1, 0, 0xFF, 0xFF}));
  CHECK(from_node["set"] == advanced::set({"x"}));
  CHECK(from_node["holes"] == json::array({advanced::undefined(), advanced::hole(), 3}));
  CHECK(from_node["regexp"] == advanced::regexp("a+", "g"));
  const json* error = advanced::tagged(from_node["error"], advanced::tag::error);
  REQUIRE(error != nullptr);
  CHECK((*error)["name"] == "TypeError");
  CHECK((*error)["message"] == "bad");
  CHECK((*error)["stack"].get<std::string>().rfind("TypeError: bad\n", 0) == 0);

  // What forkipc makes, as Node reads it; and back.
  const json mine = {{"map", advanced::map({{"k", 1}, {2, advanced::date(0)}, {advanced::bigint(3), nullptr}})},
                     {"big", advanced::bigint("-123456789012345678901234567890")},
                     {"when", advanced::date(1700000000123)},
                     {"data", json::binary({0xDE, 0xAD, 0xBE, 0xEF})},
                     {"words", bytes_of(binary_kind::uint16_array, {1, 0})},
                     {"nothing", advanced::undefined()}};
  child->send(mine);
  child->send(from_node);  // Node's own values, back to it through forkipc
  test::run_until(io, [&] { return seen.messages.size() == 3 || seen.closed(); });
  REQUIRE(seen.messages.size() == 3);
  const json& answer = seen.messages[1];
  CHECK(answer["echo"] == mine);
  CHECK(answer["kinds"] == json{{"map", "Map"}, {"big", "BigInt"}, {"when", "Date"}, {"data", "Buffer"},
                                {"words", "Uint16Array"}, {"nothing", "Undefined"}});
  CHECK(answer["facts"] == json{{"map", {"String k => Number", "Number 2 => Date", "BigInt 3 => Null"}},
                                {"big", "-246913578024691357802469135780"},
                                {"when", "2023-11-14T22:13:20.123Z"},
                                {"data", "deadbeef"}});
  CHECK(seen.messages[2]["echo"] == from_node);
  CHECK(seen.messages[2]["kinds"] == json{{"buffer", "Buffer"}, {"map", "Map"}, {"big", "BigInt"}, {"negative", "BigInt"},
                                          {"date", "Date"}, {"u16", "Uint16Array"}, {"set", "Set"},
                                          {"holes", "Array"}, {"regexp", "RegExp"}, {"error", "Error"}});
  child->disconnect();
  test::run_to_end(io);
  CHECK(seen.errors.empty());
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
}

TEST_CASE("a pool whose workers use advanced: requests and replies carry what JSON cannot") {
  const std::vector<json> bodies = {advanced::map({{"k", json::binary({1, 2})}}), advanced::bigint("99999999999999999999"),
                                    advanced::date(5), json::binary(std::vector<std::uint8_t>(1000, 1)),
                                    json::array({advanced::hole(), advanced::undefined()})};
  for (const bool node_workers : {false, true}) {
    CAPTURE(node_workers);
    boost::asio::io_context io;
    forkipc::pool pool(io, node_workers ? test::script("pool_worker.js") : helper("pool_worker"), {},
                       {.workers = 2, .fork = node_workers ? node_in_advanced : in_advanced});
    std::vector<std::pair<std::error_code, json>> replies(bodies.size());
    std::size_t done = 0;
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      pool.async_request({{"op", "echo"}, {"value", bodies[i]}}, [&, i](std::error_code ec, json reply) {
        replies[i] = {ec, std::move(reply)};
        ++done;
      });
    }
    test::run_until(io, [&] { return done == bodies.size(); });
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      CAPTURE(i);
      CHECK(!replies[i].first);
      CHECK(replies[i].second == bodies[i]);
    }
    pool.close();
    test::run_to_end(io);
  }
}

TEST_CASE("forkipc parent, Node child, advanced: a cyclic value from Node is an error, and the channel goes on") {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, test::script("advanced_child.js"), {"cycle"}, node_in_advanced);
  recorder seen(*child);
  test::run_until(io, [&] { return seen.messages.size() == 2 || seen.closed(); });
  child->disconnect();
  test::run_to_end(io);
  REQUIRE(seen.errors.size() == 1);
  CHECK(seen.errors[0].code() == forkipc::errc::malformed_message);
  CHECK(std::string(seen.errors[0].what()).find("a cyclic value") != std::string::npos);
  REQUIRE(seen.messages.size() == 2);
  CHECK(seen.messages[0] == json{{"after", "the cycle"}});
}
