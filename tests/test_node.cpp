// Interoperability with the real Node.js, both ways, in json serialization (test_advanced.cpp
// has "advanced"). A C++ parent drives Node children (tests/scripts/*.js); a Node parent
// (parent_of_cpp.js) drives the C++ child tests/helpers/interop_child and reports what Node saw
// to this test over its own channel.
#include "support.hpp"

#include <cfloat>
#include <cstdint>
#include <limits>
#include <map>
#include <set>

using forkipc::json;
using test::recorder;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

const forkipc::fork_options with_node{.exec_path = "node"};

const std::string replacement = "\xEF\xBF\xBD";  // U+FFFD, what a lone surrogate becomes

// 1 MiB of ASCII, then U+FFFD and an astral character: js_values.js's "1 MiB string" as a C++
// peer receives it.
std::string mebibyte_from_node() {
  std::string text;
  for (int i = 0; i < 65536; ++i) text += "0123456789abcdef";
  return text + replacement + "\xF0\x9F\x98\x80";
}

// Equal values of the same kind: float, integer or neither. Signedness may differ (nlohmann
// reads "1" as unsigned).
void check_same(const json& got, const json& expected) {
  CHECK(got == expected);
  CHECK(got.is_number_float() == expected.is_number_float());
  CHECK(got.is_number_integer() == expected.is_number_integer());
}

// What a C++ peer receives for each value of tests/scripts/js_values.js, by its name. Node sends
// numbers as the shortest decimal of a double, which nlohmann reads as an integer when it has no
// fraction or exponent and fits 64 bits, else as a double.
std::map<std::string, json> what_cpp_receives_from_node() {
  return {
      {"null", nullptr},
      {"true", true},
      {"false", false},
      {"zero", 0},
      {"negative zero", 0},  // JSON.stringify(-0) is "0"
      {"minus one", -1},
      {"max safe integer", 9007199254740991},
      {"2^53 + 1", 9007199254740992},             // JavaScript has no 2^53 + 1
      {"2^63", 9223372036854776000u},             // Node prints 2^63 so: not 9223372036854775808
      {"-2^63", -9223372036854775808.0},          // "-9223372036854776000" is below INT64_MIN
      {"2^64", 18446744073709551616.0},           // above UINT64_MAX
      {"0.1 + 0.2", 0.30000000000000004},
      {"1e21", 1e21},
      {"smallest double", 5e-324},
      {"largest double", DBL_MAX},
      {"NaN", nullptr},
      {"Infinity", nullptr},
      {"-Infinity", nullptr},
      {"Buffer", {{"type", "Buffer"}, {"data", {0, 1, 127, 128, 255}}}},
      {"Date", "2024-02-29T12:34:56.789Z"},
      {"undefined and functions", {{"kept", {nullptr, nullptr}}}},
      {"Map", json::object()},
      {"empty string", ""},
      {"CJK", "中文"},
      {"astral", "\xF0\x9F\x98\x80\xF0\x9D\x84\x9E\xF0\x9F\x80\x84"},
      {"U+2028 and U+2029", "a\u2028b\u2029c"},
      {"control characters", "\0\x01\x1f\x7f \"\\/\b\f\n\r\t"s},
      {"lone high surrogate", replacement},
      {"lone low surrogate in text", "a" + replacement + "b"},
      {"reversed pair", replacement + replacement},
      {"high surrogate at the end", "x" + replacement},
      {"surrogate pair", "\xF0\x9F\x98\x80"},
      {"lone surrogate before an escape", replacement + "\n\\"},
      {"lone surrogate in a key", {{replacement, replacement}}},
      {"U+FFFD itself", replacement},
      {"1 MiB string", mebibyte_from_node()},
      {"array", {1, "two", nullptr, 3.5, {true}}},
      {"object", {{"a", 1}, {"b", {{"c", {1, 2, 3}}}}, {"中", "文"}}},
  };
}

// Runs a Node parent script of tests/scripts/ under forkipc and returns the one report it sends.

}  // namespace

TEST_CASE("C++ parent, Node child: values make the round trip, as far as JavaScript's numbers go") {
  // {sent, what comes back}: Node holds every number as a double and writes integral ones
  // without a fraction, so some change value or kind.
  std::string mebibyte;
  while (mebibyte.size() < (1u << 20)) mebibyte += "ascii, é, 中文, \xF0\x9F\x98\x80, \u2028; ";
  const std::vector<std::pair<json, json>> trips{
      {nullptr, nullptr},
      {true, true},
      {false, false},
      {0, 0},
      {-1, -1},
      {9007199254740992, 9007199254740992},  // 2^53
      {9007199254740993, 9007199254740992},  // 2^53 + 1 is no double
      {std::numeric_limits<std::int64_t>::max(), 9223372036854776000u},
      {std::numeric_limits<std::int64_t>::min(), -9223372036854775808.0},
      {std::numeric_limits<std::uint64_t>::max(), 18446744073709551616.0},
      {0.5, 0.5},
      {0.1, 0.1},
      {1.0 / 3, 1.0 / 3},
      {DBL_MAX, DBL_MAX},
      {DBL_MIN, DBL_MIN},
      {5e-324, 5e-324},
      {1.0, 1},   // a double without a fraction comes back an integer...
      {-0.0, 0},  // ...-0 too
      {1e19, 10000000000000000000u},
      {1e20, 1e20},  // ...unless it is beyond 64 bits
      {std::numeric_limits<double>::quiet_NaN(), nullptr},  // forkipc writes NaN and infinities
      {std::numeric_limits<double>::infinity(), nullptr},   // as null, as Node does
      {"", ""},
      {"中文 and \xF0\x9F\x98\x80 and é", "中文 and \xF0\x9F\x98\x80 and é"},
      {"line\u2028separator\u2029paragraph", "line\u2028separator\u2029paragraph"},
      {"nul \0 and \x01 \x1f \x7f"s, "nul \0 and \x01 \x1f \x7f"s},
      {"\"quotes\" \\backslash\\ /\b\f\n\r\t", "\"quotes\" \\backslash\\ /\b\f\n\r\t"},
      {replacement, replacement},
      {mebibyte, mebibyte},
      {json{{"big", mebibyte}, {"n", 1}}, json{{"big", mebibyte}, {"n", 1}}},
      {json::array({1, "two", nullptr, 3.5, json::array({true})}),
       json::array({1, "two", nullptr, 3.5, json::array({true})})},
      {json{{"b", 1}, {"a", json{{"c", "d"}}}}, json{{"a", json{{"c", "d"}}}, {"b", 1}}},
      {json{{"cmd", "NODE_"}}, json{{"cmd", "NODE_"}}},  // not one of Node's internal messages
  };
  boost::asio::io_context io;
  auto child = forkipc::fork(io, test::script("echo.js"), {}, with_node);
  recorder seen(*child);
  for (const auto& trip : trips) child->send(trip.first);
  test::run_until(io, [&] { return seen.messages.size() == trips.size() || seen.closed(); });
  REQUIRE(seen.messages.size() == trips.size());
  for (std::size_t i = 0; i < trips.size(); ++i) {
    CAPTURE(i);
    check_same(seen.messages[i], trips[i].second);
  }
  CHECK(seen.errors.empty());
  child->disconnect();
  test::run_to_end(io);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
}

TEST_CASE("C++ parent, Node child: what only JavaScript makes arrives as documented, and goes back unchanged") {
  const auto expected = what_cpp_receives_from_node();
  boost::asio::io_context io;
  auto child = forkipc::fork(io, test::script("node_sends.js"), {}, with_node);
  recorder seen(*child);
  test::run_until(io, [&] {
    return seen.closed() || (!seen.messages.empty() && seen.messages.back().contains("done"));
  });
  REQUIRE_FALSE(seen.messages.empty());
  CHECK(seen.messages.back() == json{{"done", expected.size()}});
  std::set<std::string> named;
  std::vector<json> received;
  for (std::size_t i = 0; i + 1 < seen.messages.size(); ++i) {
    const json& m = seen.messages[i];
    const std::string what = m.at("what");
    CAPTURE(what);
    named.insert(what);
    received.push_back(m.at("value"));
    const auto found = expected.find(what);
    REQUIRE_MESSAGE(found != expected.end(), "js_values.js sends a value this test does not know");
    check_same(m.at("value"), found->second);
  }
  CHECK(named.size() == expected.size());
  CHECK(seen.errors.empty());

  // And back: Node's node_sends.js echoes them, and each returns as it came.
  seen.messages.clear();
  for (const json& value : received) child->send(value);
  test::run_until(io, [&] { return seen.messages.size() == received.size() || seen.closed(); });
  REQUIRE(seen.messages.size() == received.size());
  for (std::size_t i = 0; i < received.size(); ++i) {
    CAPTURE(i);
    check_same(seen.messages[i], received[i]);
  }
  child->disconnect();
  test::run_to_end(io);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
}

TEST_CASE("C++ parent, Node child: a message sent just before process.exit() in its callback arrives") {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, test::script("echo.js"), {}, with_node);
  recorder seen(*child);
  const json big = std::string(1u << 20, 'n');
  child->send(big);
  child->send({{"exit", 5}});  // echo.js answers {"bye": 5}, and exits 5 in the send callback
  test::run_to_end(io);
  CHECK(seen.messages == std::vector<json>{big, {{"bye", 5}}});
  CHECK(seen.events == std::vector<std::string>{"spawn", "message", "message", "disconnect", "exit 5", "close 5"});
}

TEST_CASE("C++ parent, Node child: the Node child exits 0 once the parent disconnects") {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, test::script("echo.js"), {}, with_node);
  recorder seen(*child);
  child->send("hello");
  test::run_until(io, [&] { return !seen.messages.empty() || seen.closed(); });
  CHECK(seen.messages == std::vector<json>{"hello"});
  child->disconnect();  // Node's "message" listener keeps it alive only while the channel is open
  test::run_to_end(io);
  CHECK(seen.events == std::vector<std::string>{"spawn", "message", "disconnect", "exit 0", "close 0"});
}

TEST_CASE("C++ parent, Node child: an uncaught exception ends it with code 1, then close") {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, test::script("crash.js"), {}, {.exec_path = "node", .silent = true});
  recorder seen(*child);
  child->send("crash, please");
  test::run_to_end(io);
  CHECK(seen.events == std::vector<std::string>{"spawn", "disconnect", "exit 1", "close 1"});
  CHECK(child->exit_code() == 1);
  CHECK_MESSAGE(seen.err.find("Error: crash.js: crashing as asked") != std::string::npos, seen.err);
}

TEST_CASE("C++ parent, Node child: the shared-memory transport is refused at start, never misread") {
  // A Node child finds a serialization mode it does not know in its environment and fails
  // before any user code runs: no byte of the channel is read as something else.
  boost::asio::io_context io;
  auto child = forkipc::fork(io, test::script("echo.js"), {},
                             {.exec_path = "node", .silent = true,
                              .serialization = forkipc::serialization::binary,
                              .transport = forkipc::transport::shared_memory});
  recorder seen(*child);
  child->send("hello");
  test::run_to_end(io);
  CHECK(seen.messages.empty());
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 1", "close 1"});
  const bool says_why = seen.err.find("serializationMode") != std::string::npos;
  CHECK_MESSAGE(says_why, seen.err);
}

TEST_CASE("C++ parent, Node child: the seed's child.js sums 0..99999 to 4999950000") {
  boost::asio::io_context io;
  auto child = forkipc::fork(io, FORKIPC_SOURCE_EXAMPLES "/sum_server/seed/child.js", {}, with_node);
  recorder seen(*child);
  child->send("开始计算");
  test::run_until(io, [&] { return !seen.messages.empty() || seen.closed(); });
  REQUIRE(seen.messages.size() == 1);
  CHECK(seen.messages[0].is_number_integer());
  CHECK(seen.messages[0].get<std::int64_t>() == 4999950000);
  child->disconnect();
  test::run_to_end(io);
  CHECK(seen.lifecycle() == std::vector<std::string>{"spawn", "disconnect", "exit 0", "close 0"});
}

TEST_CASE("Node parent, C++ child: every value comes back, Node sees its usual events, and the channel leaves no trace") {
  // "fork": fork(api, [], {execPath}), the channel on fd 3; "spawn": spawn(program, [api],
  // {stdio: [0, 1, 2, "pipe", "ipc"]}), the channel on fd 4.
  for (const std::string how : {"fork", "spawn"}) {
    for (const std::string api : {"async", "sync"}) {
      // "parent": Node calls child.disconnect(); "child": the C++ child disconnects.
      for (const std::string ender : {"parent", "child"}) {
        CAPTURE(how);
        CAPTURE(api);
        CAPTURE(ender);
        const json report =
            test::node_parent_report("parent_of_cpp.js", {how, test::helper("interop_child"), api, ender});
        CHECK(report["mismatches"] == json::array());
        CHECK(report["answers"] == report["sent"]);
        CHECK(report["sent"] == what_cpp_receives_from_node().size());
        // Node never emits "close" after its own disconnect(), whatever the child (#19433).
        std::vector<std::string> events{"spawn", "disconnect", "exit 0 null"};
        if (ender == "child") events.push_back("close 0 null");
        CHECK(report["events"] == events);

        // What taking the channel left behind, in the child and in its own child.
        const json& hello = report["hello"];
        const std::string fd = how == "fork" ? "3" : "4";
        CHECK(hello["before"] == json{{"NODE_CHANNEL_FD", fd}, {"NODE_CHANNEL_SERIALIZATION_MODE", "json"}});
        const json unset{{"NODE_CHANNEL_FD", nullptr}, {"NODE_CHANNEL_SERIALIZATION_MODE", nullptr}};
        CHECK(hello["after"] == unset);
        CHECK(hello["cloexec"] == true);
        CHECK(hello["grandchild"]["env"] == unset);
        const auto grandchild_fds = hello["grandchild"]["fds"].get<std::set<int>>();
        CHECK(grandchild_fds.count(std::stoi(fd)) == 0);
      }
    }
  }
}
