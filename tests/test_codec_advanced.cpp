// The advanced codec (V8's value serialization in length-prefixed frames), without a channel:
// the bytes Node v20 writes (docs in NODE_ADVANCED.md, each checked against v8.serialize), the
// json they map to (docs/from-node.md), and what a hostile peer may send.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include <forkipc/advanced.hpp>

#include "codec/advanced_frames.hpp"
#include "channel/handle_passing.hpp"

using forkipc::json;
using namespace forkipc::detail;
namespace advanced = forkipc::advanced;
using advanced::binary_kind;

namespace {

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size();) {
    if (hex[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

// A frame's body as hex, without its length (checked) and without V8's header (checked).
std::string payload_hex(const json& value) {
  std::string frame;
  encode_advanced_frame(value, frame);
  REQUIRE(frame.size() >= 6);
  const std::uint32_t length = static_cast<std::uint32_t>(static_cast<unsigned char>(frame[0])) << 24 |
                               static_cast<std::uint32_t>(static_cast<unsigned char>(frame[1])) << 16 |
                               static_cast<std::uint32_t>(static_cast<unsigned char>(frame[2])) << 8 |
                               static_cast<unsigned char>(frame[3]);
  CHECK(length == frame.size() - 4);
  CHECK(to_hex(frame.substr(4, 2)) == "ff0f");
  return to_hex(frame.substr(6));
}

std::string frame_of_payload(std::string_view payload_hex_text) {
  const std::string body = from_hex("ff0f") + from_hex(payload_hex_text);
  std::string frame(4, '\0');
  for (int i = 0; i < 4; ++i) frame[static_cast<std::size_t>(i)] = static_cast<char>(body.size() >> (8 * (3 - i)));
  return frame + body;
}

std::vector<decoded> decode_all(std::string_view stream, std::size_t max_message_size = 1 << 20,
                                std::size_t max_depth = forkipc::channel_options{}.max_nesting_depth) {
  advanced_frame_decoder decoder(max_message_size, max_depth);
  decoder.feed(stream);
  std::vector<decoded> out;
  while (auto d = decoder.next()) out.push_back(std::move(*d));
  return out;
}

// What the payload (after FF 0F) decodes to; fails the test on an error.
json read(std::string_view payload_hex_text) {
  const auto got = decode_all(frame_of_payload(payload_hex_text));
  REQUIRE(got.size() == 1);
  if (const auto* problem = std::get_if<forkipc::error>(&got[0])) FAIL(std::string(problem->what()));
  if (const auto* internal = std::get_if<internal_message>(&got[0])) return internal->value;
  return std::get<json>(got[0]);
}

// The error a whole body (header included) decodes to.
forkipc::error refusal_of_body(std::string_view body, std::size_t max_message_size = 1 << 20,
                               std::size_t max_depth = forkipc::channel_options{}.max_nesting_depth) {
  std::string frame(4, '\0');
  for (int i = 0; i < 4; ++i) frame[static_cast<std::size_t>(i)] = static_cast<char>(body.size() >> (8 * (3 - i)));
  // A second frame after it: the stream must go on.
  auto got = decode_all(frame + std::string(body) + frame_of_payload("54"), max_message_size, max_depth);
  REQUIRE(got.size() == 2);
  CHECK(std::holds_alternative<json>(got[1]));
  if (std::holds_alternative<json>(got[1])) CHECK(std::get<json>(got[1]) == true);
  REQUIRE_MESSAGE(std::holds_alternative<forkipc::error>(got[0]),
                  "decoded where it should be refused: " << to_hex(body));
  return std::get<forkipc::error>(got[0]);
}

forkipc::error refusal(std::string_view payload_hex_text, std::size_t max_message_size = 1 << 20,
                       std::size_t max_depth = forkipc::channel_options{}.max_nesting_depth) {
  return refusal_of_body(from_hex("ff0f") + from_hex(payload_hex_text), max_message_size, max_depth);
}

// Encodes value and decodes it back.
json round_trip(const json& value) {
  std::string frame;
  encode_advanced_frame(value, frame);
  const auto got = decode_all(frame, frame.size());
  REQUIRE(got.size() == 1);
  if (const auto* problem = std::get_if<forkipc::error>(&got[0])) FAIL(std::string(problem->what()));
  if (const auto* internal = std::get_if<internal_message>(&got[0])) return internal->value;
  return std::get<json>(got[0]);
}

std::string encode_refusal(const json& value) {
  std::string frame = "kept";
  try {
    encode_advanced_frame(value, frame);
  } catch (const forkipc::error& e) {
    CHECK(e.code() == forkipc::errc::unencodable_message);
    CHECK(frame == "kept");  // nothing appended
    return e.what();
  }
  FAIL("encoded where it should be refused");
  return {};
}

json bytes_of(binary_kind kind, std::initializer_list<std::uint8_t> values) {
  return advanced::binary(kind, std::vector<std::uint8_t>(values));
}

const double not_a_number = std::numeric_limits<double>::quiet_NaN();
const double infinity = std::numeric_limits<double>::infinity();

bool same_number(const json& a, const json& b) {
  if (a.is_number_float() != b.is_number_float()) return false;
  if (!a.is_number_float()) return a == b;
  const double x = a.get<double>(), y = b.get<double>();
  return (std::isnan(x) && std::isnan(y)) || (x == y && std::signbit(x) == std::signbit(y));
}

}  // namespace

TEST_CASE("advanced: scalars are written as Node writes them") {
  CHECK(payload_hex(nullptr) == "30");
  CHECK(payload_hex(true) == "54");
  CHECK(payload_hex(false) == "46");
  CHECK(payload_hex(0) == "4900");
  CHECK(payload_hex(1) == "4902");
  CHECK(payload_hex(-1) == "4901");
  CHECK(payload_hex(63) == "497e");
  CHECK(payload_hex(64) == "498001");
  CHECK(payload_hex(1 << 30) == "498080808008");
  CHECK(payload_hex(INT32_MAX) == "49feffffff0f");
  CHECK(payload_hex(INT32_MIN) == "49ffffffff0f");
  CHECK(payload_hex(2147483648u) == "4e000000000000e041");  // past int32: a double
  CHECK(payload_hex(1.5) == "4e000000000000f83f");
  CHECK(payload_hex(-0.0) == "4e0000000000000080");
  CHECK(payload_hex(not_a_number) == "4e000000000000f87f");
  CHECK(payload_hex(infinity) == "4e000000000000f07f");
  CHECK(payload_hex(1.0) == "4e000000000000f03f");  // a float stays a double
}

TEST_CASE("advanced: strings are one-byte when they can be, two-byte (aligned) when not") {
  CHECK(payload_hex("ab") == "22026162");
  CHECK(payload_hex("") == "2200");
  CHECK(payload_hex("\xC3\xA9") == "2201e9");  // é: Latin-1
  CHECK(payload_hex("\xE2\x82\xAC") == "6302ac20");  // €
  CHECK(payload_hex("\xF0\x9F\x98\x80") == "63043dd800de");
  CHECK(payload_hex("a\xF0\x9F\x98\x80") == "630661003dd800de");
  CHECK(payload_hex("\xED\xA0\x80") == "630200d8");  // a lone surrogate, in WTF-8
  CHECK(payload_hex(json{{"ab", "\xE2\x82\xAC"}}) == "6f22026162006302ac207b01");  // 00: padding
  CHECK(read("22026162") == "ab");
  CHECK(read("2201e9") == "\xC3\xA9");
  CHECK(read("6302ac20") == "\xE2\x82\xAC");
  CHECK(read("630661003dd800de") == "a\xF0\x9F\x98\x80");
  CHECK(read("630200d8") == "\xED\xA0\x80");
  CHECK(read("6304 00dc 00d8") == "\xED\xB0\x80\xED\xA0\x80");  // reversed: two lone ones
  CHECK(read("5302c3a9") == "\xC3\xA9");  // 'S', which V8 reads but never writes
  CHECK(read("5302ff41") == "\xEF\xBF\xBD" "A");  // ...with invalid UTF-8 replaced, as V8 does
  CHECK(read("6f 2202 6162 6302ac20 7b01") == json{{"ab", "\xE2\x82\xAC"}});  // unaligned, no padding
  for (const std::string& s : std::vector<std::string>{"\xC3\xA9t\xC3\xA9", "\xE4\xB8\xAD\xE6\x96\x87", "\xED\xA0\x80x\xED\xB0\x80",
                              std::string(1000, 'z') + "\xC3\xBF", std::string("nul\0in", 6)})
    CHECK(round_trip(s) == s);
  CHECK(encode_refusal("\xFF").find("invalid UTF-8 at byte 0") != std::string::npos);
  CHECK(encode_refusal(json{{"k\xC0", 1}}).find("invalid UTF-8") != std::string::npos);
}

TEST_CASE("advanced: numbers read as json integers when they are integers a double holds exactly") {
  CHECK(same_number(read("4902"), 1));
  CHECK(same_number(read("5501"), 1));  // 'U', which V8 reads but never writes
  CHECK(same_number(read("4e000000000000f03f"), 1));
  CHECK(same_number(read("4e0000000000004043"), 9007199254740992));  // 2^53
  CHECK(same_number(read("4e0100000000004043"), 9007199254740994.0));  // past 2^53: a double
  CHECK(same_number(read("4e0000000000000080"), -0.0));
  CHECK(same_number(read("4e000000000000f83f"), 1.5));
  CHECK(same_number(read("4e000000000000f87f"), not_a_number));
  CHECK(same_number(read("4e010000000000f87f"), not_a_number));  // any NaN
  CHECK(same_number(read("4e000000000000f0ff"), -infinity));
  for (const json& n : {json(0), json(-1), json(INT32_MAX), json(INT32_MIN), json(1e300), json(-0.0), json(not_a_number),
                       json(std::int64_t{1} << 40), json(-(std::int64_t{1} << 53)), json(0.1)})
    CHECK(same_number(round_trip(n), n));
  // Past 2^53 an integer is a double, as in JavaScript: {"$bigint"} is exact.
  CHECK(same_number(round_trip(json(std::uint64_t{1} << 63)), 9223372036854775808.0));
}

TEST_CASE("advanced: objects, arrays, holes and array properties") {
  CHECK(payload_hex(json{{"a", 1}, {"b", "x"}}) == "6f2201614902220162220178" "7b02");
  CHECK(payload_hex(json{{"1", "a"}, {"b", 2}}) == "6f4902220161220162" "4904" "7b02");  // index keys as numbers
  CHECK(payload_hex(json::object()) == "6f7b00");
  CHECK(payload_hex(json::array({1, 2})) == "410249024904240002");
  CHECK(payload_hex(json::array()) == "4100240000");
  CHECK(payload_hex(json::array({1, advanced::hole(), 3})) == "6103" "49004902" "49044906" "400203");
  json five_holes = json::array();
  for (int i = 0; i < 5; ++i) five_holes.push_back(advanced::hole());
  five_holes.push_back(1);
  CHECK(payload_hex(five_holes) == "6106490a4902400106");
  const json with_property = {{"$array", {{"items", {1, 2}}, {"properties", {{"foo", "x"}}}}}};
  CHECK(payload_hex(with_property) == "41024902490422036" "66f6f220178240102");

  CHECK(read("6f2201614902220162220178" "7b02") == json{{"a", 1}, {"b", "x"}});
  CHECK(read("6f4902220161220162" "4904" "7b02") == json{{"1", "a"}, {"b", 2}});
  CHECK(read("6103" "49004902" "49044906" "400203") == json::array({1, advanced::hole(), 3}));
  CHECK(read("6106490a4902400106") == five_holes);
  CHECK(read("410249024904220366" "6f6f220178240102") == with_property);
  CHECK(read("4103 4902 2d 4906 240003") == json::array({1, advanced::hole(), 3}));  // '-' in a dense array
  CHECK(read("4102 5f 5f 240002") == json::array({advanced::undefined(), advanced::undefined()}));
  // Keys written as numbers become JavaScript's text of them.
  CHECK(read("6f 4e000000c00b5ae641 4902 7b01") == json{{"3000000000", 1}});
  CHECK(read("6f 4e000000000000f83f 4902 7b01") == json{{"1.5", 1}});
  CHECK(read("6f 4e00167b0d12d1d443 4902 7b01") == json{{"6000000000000000000", 1}});
  CHECK(read("6f 4e50efe2d6e41a4b44 4902 7b01") == json{{"1e+21", 1}});
  CHECK(read("6f 4e8dedb5a0f7c6b03e 4902 7b01") == json{{"0.000001", 1}});
  CHECK(read("6f 4e bbbdd7d9df7cdb3d 4902 7b01") == json{{"1e-10", 1}});
  CHECK(read("6f 4901 4902 7b01") == json{{"-1", 1}});
  CHECK(read("6102 4905 30 400102") ==  // a negative key is an array's property, not an element
        json{{"$array", {{"items", {advanced::hole(), advanced::hole()}}, {"properties", {{"-3", nullptr}}}}}});
  CHECK(read("6f 5505 4902 7b01") == json{{"5", 1}});
  // A sparse array's named properties and elements by index, in any order.
  CHECK(read("6102 2201 6b 30 4902 54 400202") ==
        json{{"$array", {{"items", {advanced::hole(), true}}, {"properties", {{"k", nullptr}}}}}});
  for (const json& v : {json::array({advanced::hole()}), json::array({advanced::undefined(), advanced::hole(), nullptr}),
                        json{{"$array", {{"items", {advanced::hole(), 1}}, {"properties", {{"x", 1}, {"y", {1}}}}}}},
                        json{{"$array", {{"items", json::array()}, {"properties", {{"length2", 1}}}}}}})
    CHECK(round_trip(v) == v);
  CHECK(encode_refusal(advanced::hole()).find("only an array's element") != std::string::npos);
  CHECK(encode_refusal(json{{"a", advanced::hole()}}).find("only an array's element") != std::string::npos);
  CHECK(encode_refusal(json{{"$hole", 1}}).find("takes null") == std::string::npos);
  CHECK(encode_refusal(json::array({json{{"$hole", 1}}})).find("takes null") != std::string::npos);
  CHECK(encode_refusal(json{{"$array", {{"items", {1}}, {"properties", {{"0", 1}}}}}}).find("is an index") !=
        std::string::npos);
  CHECK(encode_refusal(json{{"$array", {{"items", {1}}}}}).find("$array takes") != std::string::npos);
}

TEST_CASE("advanced: undefined, BigInts, Dates, RegExps, boxed primitives") {
  CHECK(payload_hex(advanced::undefined()) == "5f");
  CHECK(payload_hex(advanced::bigint(0)) == "5a00");
  CHECK(payload_hex(advanced::bigint(1)) == "5a100100000000000000");
  CHECK(payload_hex(advanced::bigint(-1)) == "5a110100000000000000");
  CHECK(payload_hex(advanced::bigint("18446744073709551616")) == "5a20" "0000000000000000" "0100000000000000");
  CHECK(payload_hex(advanced::bigint("-18446744073709551621")) == "5a21" "0500000000000000" "0100000000000000");
  CHECK(payload_hex(advanced::date(0)) == "440000000000000000");
  CHECK(payload_hex(advanced::regexp("ab+c", "gi")) == "52220461622b6303");
  CHECK(payload_hex(advanced::regexp("x", "dgimsuy")) == "52220178bf01");
  CHECK(payload_hex(advanced::regexp("x", "v")) == "522201788002");
  CHECK(payload_hex(json{{"$boxed", 1}}) == "6e000000000000f03f");
  CHECK(payload_hex(json{{"$boxed", 1.5}}) == "6e000000000000f83f");
  CHECK(payload_hex(json{{"$boxed", "ab"}}) == "7322026162");
  CHECK(payload_hex(json{{"$boxed", true}}) == "79");
  CHECK(payload_hex(json{{"$boxed", false}}) == "78");
  CHECK(payload_hex(json{{"$boxed", advanced::bigint(1)}}) == "7a100100000000000000");

  CHECK(read("5f") == advanced::undefined());
  CHECK(read("5a00") == advanced::bigint(0));
  CHECK(read("5a01") == advanced::bigint(0));  // a negative zero is zero
  CHECK(read("5a21" "0500000000000000" "0100000000000000") == advanced::bigint("-18446744073709551621"));
  CHECK(read("5a06 010000") == advanced::bigint(1));  // digits in any number of bytes
  CHECK(read("440000000000000000") == advanced::date(0));
  CHECK(same_number(read("44000000000000f87f")["$date"], not_a_number));  // an invalid Date
  CHECK(read("52220178bf01") == advanced::regexp("x", "dgimsuy"));
  CHECK(read("7a100100000000000000") == json{{"$boxed", advanced::bigint(1)}});
  const std::string big = "-" + std::string(4000, '7');
  for (const json& v : {advanced::bigint(big), advanced::bigint("123456789012345678901234567890"),
                        advanced::date(1.7e12), advanced::date(-1), advanced::regexp("", ""),
                        advanced::regexp("\xE2\x82\xAC+", "u"), json{{"$boxed", "\xE2\x82\xAC"}},
                        json{{"$boxed", -0.0}}})
    CHECK(round_trip(v) == v);
  CHECK(encode_refusal(advanced::bigint("12a")).find("decimal digits") != std::string::npos);
  CHECK(encode_refusal(advanced::bigint("")).find("decimal digits") != std::string::npos);
  CHECK(encode_refusal(json{{"$bigint", 5}}).find("string of decimal digits") != std::string::npos);
  CHECK(encode_refusal(advanced::bigint(std::string(5000, '9'))).find("more than 16384 bits") != std::string::npos);
  CHECK(encode_refusal(advanced::regexp("x", "gg")).find("distinct letters") != std::string::npos);
  CHECK(encode_refusal(advanced::regexp("x", "uv")).find("both u and v") != std::string::npos);
  CHECK(encode_refusal(json{{"$regexp", {{"source", "x"}, {"flags", "g"}, {"other", 1}}}}).find("no member") !=
        std::string::npos);
  CHECK(encode_refusal(json{{"$date", "today"}}).find("$date takes a number") != std::string::npos);
  CHECK(encode_refusal(json{{"$undefined", 0}}).find("takes null") != std::string::npos);
  CHECK(encode_refusal(json{{"$boxed", nullptr}}).find("$boxed takes") != std::string::npos);
}

TEST_CASE("advanced: Maps, Sets and Errors") {
  CHECK(payload_hex(advanced::map({{1, "a"}})) == "3b49022201613a02");
  CHECK(payload_hex(advanced::set({1, "a"})) == "2749022201612c02");
  CHECK(payload_hex(json{{"$error", {{"name", "TypeError"}, {"message", "boom"}, {"stack", "S"}}}}) ==
        "72546d2204626f6f6d732201532e");
  // The stack before the cause, which Node 22 and later require.
  CHECK(payload_hex(json{{"$error", {{"message", "m"}, {"stack", "S"}, {"cause", 1}}}}) ==
        "726d22016d73220153634902" "2e");

  CHECK(read("3b49022201613a02") == advanced::map({{1, "a"}}));
  CHECK(read("2749022201612c02") == advanced::set({1, "a"}));
  CHECK(read("72546d2204626f6f6d732201532e") ==
        json{{"$error", {{"name", "TypeError"}, {"message", "boom"}, {"stack", "S"}}}});
  // Node 20 writes the cause before the stack.
  CHECK(read("726d22016d634902732201532e") == json{{"$error", {{"message", "m"}, {"stack", "S"}, {"cause", 1}}}});
  CHECK(read("722e") == json{{"$error", json::object()}});
  const json nested = advanced::map({{advanced::map(), advanced::set({advanced::undefined()})},
                                     {json{{"k", 1}}, json::array({1})},
                                     {advanced::bigint(5), advanced::date(2)}});
  for (const json& v : {nested, advanced::set(), json{{"$error", {{"name", "RangeError"}, {"cause", nested}}}},
                        json{{"$error", {{"name", "URIError"}}}}})
    CHECK(round_trip(v) == v);
  CHECK(encode_refusal(advanced::map({1})).find("[key, value] pairs") != std::string::npos);
  CHECK(encode_refusal(json{{"$error", {{"message", 1}}}}).find("must be a string") != std::string::npos);
  CHECK(encode_refusal(json{{"$error", {{"code", "E1"}}}}).find("no member \"code\"") != std::string::npos);
}

TEST_CASE("advanced: binary values: Buffers, typed arrays, DataViews and ArrayBuffers") {
  CHECK(payload_hex(json::binary({1, 2, 3})) == "5c000a03010203");  // a Buffer
  CHECK(payload_hex(bytes_of(binary_kind::buffer, {1})) == "5c000a0101");
  CHECK(payload_hex(bytes_of(binary_kind::int8_array, {0xff})) == "5c000001ff");
  CHECK(payload_hex(bytes_of(binary_kind::uint8_array, {1, 2, 3})) == "5c000103010203");
  CHECK(payload_hex(bytes_of(binary_kind::int16_array, {1, 0, 0xfe, 0xff})) == "5c0003040100feff");
  CHECK(payload_hex(bytes_of(binary_kind::data_view, {2, 3})) == "5c0009020203");
  CHECK(payload_hex(bytes_of(binary_kind::biguint64_array, {1, 0, 0, 0, 0, 0, 0, 0})) == "5c000c080100000000000000");
  CHECK(payload_hex(bytes_of(binary_kind::array_buffer, {1, 2, 3, 4})) == "420401020304");

  CHECK(read("5c000a03010203") == json::binary({1, 2, 3}));
  CHECK(read("5c000a03010203") != json::binary({1, 2, 3}, 1));
  CHECK(read("5c000003 010203") == bytes_of(binary_kind::int8_array, {1, 2, 3}));
  CHECK(read("5c000d02 003c") == bytes_of(binary_kind::float16_array, {0, 0x3c}));  // Node 24's Float16Array
  CHECK(read("420401020304") == bytes_of(binary_kind::array_buffer, {1, 2, 3, 4}));
  // A plain v8.Serializer's views: the buffer, then 'V' type offset length flags.
  CHECK(read("4203010203 5642000300") == bytes_of(binary_kind::uint8_array, {1, 2, 3}));
  CHECK(read("4204 01020304 5677 020200") == bytes_of(binary_kind::int16_array, {3, 4}));
  CHECK(read("4104 4203010203 5642000300 5e01 5e02 5e01 563f010100 240004") ==
        json::array({bytes_of(binary_kind::uint8_array, {1, 2, 3}), bytes_of(binary_kind::array_buffer, {1, 2, 3}),
                     bytes_of(binary_kind::uint8_array, {1, 2, 3}), bytes_of(binary_kind::data_view, {2})}));
  // [ab, new Uint8Array(ab)] from Node's IPC: the view's bytes are its own.
  CHECK(read("4102 420401020304 5c00010401020304 240002") ==
        json::array({bytes_of(binary_kind::array_buffer, {1, 2, 3, 4}), bytes_of(binary_kind::uint8_array, {1, 2, 3, 4})}));

  for (int kind : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 66}) {
    CAPTURE(kind);
    const json v = advanced::binary(static_cast<binary_kind>(kind), std::vector<std::uint8_t>(16, 7));
    CHECK(round_trip(v) == v);
  }
  CHECK(round_trip(json::binary({}, 10)) == json::binary({}));  // Node's own number for a Buffer
  const json mebibyte = json::binary(std::vector<std::uint8_t>(1 << 20, 0x5a));
  CHECK(round_trip(mebibyte) == mebibyte);
  CHECK(encode_refusal(json::binary({1}, 42)).find("subtype 42 names no JavaScript object") != std::string::npos);
  CHECK(encode_refusal(bytes_of(binary_kind::float64_array, {1, 2, 3})).find("not whole elements of 8") !=
        std::string::npos);
}

TEST_CASE("advanced: reserved-looking keys are wrapped in $object, and back") {
  const json plain = {{"$date", 1}};
  CHECK(read("6f 2205 2464617465 4902 7b01") == json{{"$object", plain}});
  CHECK(payload_hex(json{{"$object", plain}}) == "6f220524646174654902" "7b01");
  for (const json& v : {json{{"$object", plain}}, json{{"$object", {{"$object", 1}}}},
                        json{{"$object", {{"$hole", nullptr}}}}, json{{"$date", 1}, {"other", 2}},
                        json{{"$undefined", json{{"$object", {{"$map", 0}}}}}, {"x", 0}}, advanced::object({{"$set", 1}})})
    CHECK(round_trip(v) == v);
  CHECK(advanced::object({{"$set", 1}}) == json{{"$object", {{"$set", 1}}}});
  CHECK(advanced::object({{"set", 1}}) == json{{"set", 1}});
}

TEST_CASE("advanced: shared references arrive as copies; cycles are refused and the stream goes on") {
  CHECK(read("6f 2201 70 6f 220178 4902 7b01 2201 71 5e01 7b02") == json{{"p", {{"x", 1}}}, {"q", {{"x", 1}}}});
  CHECK(read("4102 5c000a0101 5e01 240002") == json::array({json::binary({1}), json::binary({1})}));
  CHECK(read("4103 3b 4902 4904 3a02 5e01 44 000000000000f03f 240003") ==
        json::array({advanced::map({{1, 2}}), advanced::map({{1, 2}}), advanced::date(1)}));
  // A reference to a Date, read after it; a reference to a wrapped object, as wrapped.
  CHECK(read("4102 44 0000000000000000 5e01 240002") == json::array({advanced::date(0), advanced::date(0)}));
  CHECK(read("4102 6f 2204 24736574 4902 7b01 5e01 240002") ==
        json::array({json{{"$object", {{"$set", 1}}}}, json{{"$object", {{"$set", 1}}}}}));

  const auto cycle = refusal("6f 2204 73656c66 5e00 7b01");
  CHECK(cycle.code() == forkipc::errc::malformed_message);
  CHECK(std::string(cycle.what()).find("cyclic") != std::string::npos);
  CHECK(std::string(refusal("4101 5e00 240001").what()).find("cyclic") != std::string::npos);
  CHECK(std::string(refusal("5e00").what()).find("reference to object 0 where 0 were read") != std::string::npos);
  // An Error whose cause is itself.
  CHECK(std::string(refusal("72 6d 22016d 63 5e00 2e").what()).find("cyclic") != std::string::npos);
}

TEST_CASE("advanced: nested shared references cannot expand exponentially") {
  // a0 = [1, 1]; a(k+1) = [a(k), a(k)]: 40 levels make 2^40 values of a few hundred bytes.
  // The outermost array is object 0, a0 object 40: the reference in a(k+1) names a(k), 40 - k.
  std::string payload = "4102 4902 4902 240002";
  for (int k = 0; k < 40; ++k)
    payload = "4102 " + payload + " 5e" + to_hex(std::string(1, static_cast<char>(40 - k))) + " 240002";
  const auto refused = refusal(payload);
  CHECK(refused.code() == forkipc::errc::message_too_large);
  CHECK(std::string(refused.what()).find("shared references count what they copy") != std::string::npos);
  // A sparse array of a billion holes is refused before it is made.
  CHECK(refusal("61 8094ebdc03 40 00 8094ebdc03").code() == forkipc::errc::message_too_large);
}

TEST_CASE("advanced: Node's internal messages are classified as in the other codecs") {
  const auto got = decode_all(frame_of_payload("6f 2203 636d64 2208 4e4f44455f464f4f 7b01"));
  REQUIRE(got.size() == 1);
  CHECK(std::holds_alternative<internal_message>(got[0]));
  const auto handle = decode_all(from_hex("00000036 ff0f 6f 2203 636d64 220b 4e4f44455f48414e444c45 2204 74797065 "
                                          "220a 6e65742e536572766572 2203 6d7367 6f 2201 6d 4902 7b01 7b03"));
  REQUIRE(handle.size() == 1);
  REQUIRE(std::holds_alternative<internal_message>(handle[0]));
  CHECK(std::get<internal_message>(handle[0]).value ==
        json{{"cmd", "NODE_HANDLE"}, {"type", "net.Server"}, {"msg", {{"m", 1}}}});
  // The acknowledgement, byte for byte as Node writes it.
  std::string ack;
  encode_advanced_frame(handle_ack(), ack);
  CHECK(to_hex(ack) == "0000001bff0f6f2203636d64220f4e4f44455f48414e444c455f41434b7b01");
  CHECK(std::holds_alternative<json>(decode_all(frame_of_payload("6f 2203 636d64 2205 4e4f44455f 7b01"))[0]));
}

TEST_CASE("advanced: what V8 allows around a value") {
  CHECK(read("00 00 54") == true);  // padding before a tag
  CHECK(read("3f 05 54") == true);  // an old object count
  CHECK(read("4902 ffff ffff") == 1);  // bytes after the value are ignored
  const auto v13 = decode_all(from_hex("0000000b ff0d 4203010203 56420003"));  // version 13: views without flags
  REQUIRE(v13.size() == 1);
  CHECK(std::get<json>(v13[0]) == bytes_of(binary_kind::uint8_array, {1, 2, 3}));
}

TEST_CASE("advanced: hostile frames are errors that name what was wrong, and the next frame decodes") {
  const auto says = [](const forkipc::error& e, std::string_view what) {
    const std::string text = e.what();
    CHECK_MESSAGE(text.find(what) != std::string::npos, text);
    return text;
  };
  says(refusal_of_body(from_hex("4902")), "no version header");
  says(refusal_of_body(from_hex("ff10 4902")), "format version 16, where forkipc reads 13 to 15");
  says(refusal_of_body(from_hex("ff0c 4902")), "format version 12");
  says(refusal_of_body(from_hex("ff")), "the format version");
  says(refusal_of_body(from_hex("ff0f")), "the bytes end inside a value");
  says(refusal("07"), "the tag 0x07 where a value belongs");
  says(refusal("7b00"), "the tag '{' where a value belongs");
  says(refusal("2d"), "a hole ('-') outside an array");
  says(refusal("2205 6162"), "a string of 5 bytes where 2 are left");
  says(refusal("6303 616263"), "a two-byte string of an odd 3 bytes");
  says(refusal("49ffffffffff01"), "more than 5 bytes");
  says(refusal("49ffffffff7f"), "does not fit 32 bits");
  says(refusal("6f 2201 61 4902 2201 61 4904 7b02"), "the key \"a\" twice in one object");
  says(refusal("6f 4902 30 2201 31 30 7b02"), "the key \"1\" twice");  // 1 and "1" are one key
  says(refusal("6f 2201 61 4902 7b02"), "an object's end announces 2 where 1 were read");
  says(refusal("6f 2201 61 4902"), "the bytes end inside an object");
  says(refusal("6f 6f7b00 4902 7b01"), "a key of tag 'o', neither a string nor a number");
  says(refusal("4102 4902 240002"), "the tag '$' where a value belongs");
  says(refusal("4164 4902"), "an array of 100 elements in 2 bytes");
  says(refusal("4101 4902 240002"), "an array's length at its end announces 2 where 1");
  says(refusal("6102 4906 30 400102"), "an element at index 3 of an array of length 2");
  says(refusal("6102 4902 30 4902 30 400202"), "the element at index 1 twice");
  says(refusal("3b 4902 3a02"), "the tag ':' where a value belongs");  // a key without its value
  says(refusal("3b 4902 4902 3a04"), "a Map's end announces 4 where 2 were read");
  says(refusal("27 4902 2c02"), "a Set's end announces 2 where 1");
  says(refusal("5c 000e 0101"), "a view of Node's unknown type 14");
  says(refusal("5c 0042 0101"), "a view of Node's unknown type 66");
  says(refusal("5c 0003 03 010203"), "not whole elements of 2");
  says(refusal("5c 07"), "a host object of kind 7");
  says(refusal("4203 010203 5642 0004 00"), "a view of bytes 0 to 4 of an ArrayBuffer of 3");
  says(refusal("4203 010203 5678 0003 00"), "a view of the unknown type 120");
  says(refusal("4203 010203 5642 0003 01"), "do not match its ArrayBuffer");
  says(refusal("52 2201 78 8004"), "a RegExp with the flags 512");
  says(refusal("52 2201 78 40"), "a RegExp with the flags 64");  // linear, behind a V8 flag
  says(refusal("52 4902 00"), "a RegExp's source that is not a string");
  says(refusal("72 6d 4902 2e"), "an Error's message that is not a string");
  says(refusal("72 58 2e"), "an Error's field of the unknown tag 'X'");
  says(refusal("72 6d 22016d"), "the bytes end inside an Error");
  says(refusal("72 63 30 63 30 2e"), "an Error with two causes");
  says(refusal("75 00"), "cannot travel between processes");
  says(refusal("70 00"), "cannot travel between processes");
  says(refusal("5a 80 40"), "more than 16384 bits");
  // Each error quotes the bytes around the spot.
  says(refusal("6f 2201 61 4902 2201 61 4904 7b02"), "at byte 11): ... 22 01 61 49 02 22 01 61 49 04 7b 02");
}

TEST_CASE("advanced: max_nesting_depth counts the json value made, tagged forms included") {
  // [[...[1]...]] of depth d, in V8's bytes.
  const auto nested = [](int depth) {
    std::string payload = "4902";
    for (int i = 0; i < depth; ++i) payload = "4101 " + payload + " 240001";
    return payload;
  };
  CHECK(decode_all(frame_of_payload(nested(10)), 1 << 20, 10).size() == 1);
  CHECK(std::holds_alternative<json>(decode_all(frame_of_payload(nested(10)), 1 << 20, 10)[0]));
  CHECK(refusal(nested(11), 1 << 20, 10).code() == forkipc::errc::nesting_too_deep);
  // A Map is three levels to its keys: {"$map": [[k, v]]}.
  CHECK(std::holds_alternative<json>(decode_all(frame_of_payload("3b 4902 4902 3a02"), 1 << 20, 3)[0]));
  CHECK(refusal("3b 4101 4902 240001 4902 3a02", 1 << 20, 3).code() == forkipc::errc::nesting_too_deep);
  // A plain object wrapped in {"$object": ...} is one level more.
  CHECK(refusal("4101 6f 2205 2464617465 4902 7b01 240001", 1 << 20, 2).code() == forkipc::errc::nesting_too_deep);
  // A reference's copy counts where it lands.
  CHECK(refusal("4102 4101 4101 4902 240001 240001 4101 5e01 240001 240002", 1 << 20, 3).code() ==
        forkipc::errc::nesting_too_deep);
  // Deep in bytes, never on the stack: a million levels is an error, not a crash.
  std::string deep = frame_of_payload("");
  std::string body = from_hex("ff0f");
  for (int i = 0; i < 1000000; ++i) body += from_hex("4101");
  std::string frame(4, '\0');
  for (int i = 0; i < 4; ++i) frame[static_cast<std::size_t>(i)] = static_cast<char>(body.size() >> (8 * (3 - i)));
  const auto got = decode_all(frame + body, 4 << 20);
  REQUIRE(got.size() == 1);
  CHECK(std::get<forkipc::error>(got[0]).code() == forkipc::errc::nesting_too_deep);
  // And in writing.
  json too_deep = 1;
  for (int i = 0; i < 11; ++i) too_deep = json::array({too_deep});
  std::string out;
  CHECK_THROWS_AS(encode_advanced_frame(too_deep, out, 10), forkipc::error);
  CHECK_NOTHROW(encode_advanced_frame(too_deep, out, 11));
  CHECK_THROWS_AS(encode_advanced_frame(advanced::map({{1, too_deep}}), out, 13), forkipc::error);
  CHECK_NOTHROW(encode_advanced_frame(advanced::map({{1, too_deep}}), out, 14));
}

TEST_CASE("advanced: a frame's length: over the limit or 2 GiB closes the stream; split anywhere it waits") {
  {
    advanced_frame_decoder decoder(100);
    decoder.feed(from_hex("00000065") + std::string(10, 'x'));
    auto got = decoder.next();
    REQUIRE(got);
    CHECK(std::get<forkipc::error>(*got).code() == forkipc::errc::message_too_large);
    CHECK(decoder.broken());
    decoder.feed(frame_of_payload("54"));
    CHECK_FALSE(decoder.next());
  }
  {
    advanced_frame_decoder decoder(SIZE_MAX / 8);
    decoder.feed(from_hex("80000000"));
    auto got = decoder.next();
    REQUIRE(got);
    const std::string what = std::get<forkipc::error>(*got).what();
    CHECK(what.find("advanced frames hold at most 2147483647 bytes") != std::string::npos);
    CHECK(decoder.broken());
  }
  {
    advanced_frame_decoder decoder(100);
    decoder.feed(from_hex("00000000"));
    auto got = decoder.next();
    REQUIRE(got);
    CHECK(std::string(std::get<forkipc::error>(*got).what()).find("empty advanced frame") != std::string::npos);
    CHECK_FALSE(decoder.broken());
  }
  {
    const std::string stream = frame_of_payload("6f 2201 61 4902 7b01") + frame_of_payload("54");
    advanced_frame_decoder decoder(100);
    std::vector<json> got;
    for (char c : stream) {  // a byte at a time, the length split too
      decoder.feed(std::string_view(&c, 1));
      while (auto d = decoder.next()) got.push_back(std::get<json>(*d));
    }
    CHECK(got == std::vector<json>{{{"a", 1}}, true});
    CHECK_FALSE(decoder.finish());
    decoder.feed(from_hex("000000"));
    CHECK(decoder.finish()->code() == forkipc::errc::truncated_message);
  }
}

TEST_CASE("advanced: a large binary value is made in the memory of the last one, once it is given back") {
  const json big = json::binary(std::vector<std::uint8_t>(2 << 20, 7));
  std::string frames;
  encode_advanced_frame(big, frames);
  encode_advanced_frame(big, frames);
  advanced_frame_decoder decoder(4 << 20);
  decoder.feed(frames);
  auto first = decoder.next();
  REQUIRE((first && std::holds_alternative<json>(*first)));
  json& message = std::get<json>(*first);
  const std::uint8_t* memory = message.get_binary().data();
  decoder.recycle(message);  // the listeners are done with it
  CHECK(message.get_binary().empty());
  auto second = decoder.next();
  REQUIRE((second && std::holds_alternative<json>(*second)));
  CHECK(std::get<json>(*second) == big);
  CHECK(std::get<json>(*second).get_binary().data() == memory);
}
