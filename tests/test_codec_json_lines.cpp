// The json-lines codec, byte by byte, without any I/O.
#include <doctest/doctest.h>

#include <string>
#include <variant>
#include <vector>

#include "codec/json_lines.hpp"

using forkipc::json;
using forkipc::detail::decoded;
using forkipc::detail::internal_message;
using forkipc::detail::json_line_decoder;

namespace {

std::vector<decoded> decode_all(json_line_decoder& decoder) {
  std::vector<decoded> out;
  while (auto d = decoder.next()) out.push_back(std::move(*d));
  return out;
}

std::vector<decoded> decode(std::string_view bytes, std::size_t max = 1 << 20) {
  json_line_decoder decoder(max);
  decoder.feed(bytes);
  return decode_all(decoder);
}

const json& message(const decoded& d) {
  REQUIRE(std::holds_alternative<json>(d));
  return std::get<json>(d);
}

const forkipc::error& problem(const decoded& d) {
  REQUIRE(std::holds_alternative<forkipc::error>(d));
  return std::get<forkipc::error>(d);
}

std::string encode(const json& value) {
  std::string out;
  forkipc::detail::encode_json_line(value, out);
  return out;
}

}  // namespace

TEST_CASE("encoding is Node's: compact JSON, raw UTF-8, one newline") {
  CHECK(encode(json{{"a", 1}, {"b", json::array({true, nullptr})}}) == "{\"a\":1,\"b\":[true,null]}\n");
  CHECK(encode("中文\u2028") == "\"中文\u2028\"\n");
  CHECK(encode("line\nbreak") == "\"line\\nbreak\"\n");  // a message never holds a raw newline
  CHECK(encode(std::numeric_limits<double>::quiet_NaN()) == "null\n");
  CHECK(encode(std::numeric_limits<double>::infinity()) == "null\n");
  CHECK(encode(0.1) == "0.1\n");
}

TEST_CASE("encoding invalid UTF-8 throws and leaves the output as it was") {
  std::string out = "kept";
  CHECK_THROWS_AS(forkipc::detail::encode_json_line(std::string("\xff"), out), forkipc::error);
  CHECK(out == "kept");
}

TEST_CASE("lines decode whatever the split of the stream") {
  const std::string stream = encode({{"a", "中文"}}) + encode(1) + encode(json::array()) +
                             encode("x\ny") + " {\"spaces\": true} \r\n";
  const std::vector<json> expected{{{"a", "中文"}}, 1, json::array(), "x\ny", {{"spaces", true}}};
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    for (std::size_t step : {std::size_t{1}, std::size_t{3}, stream.size()}) {
      CAPTURE(split);
      CAPTURE(step);
      json_line_decoder decoder(1 << 20);
      std::vector<decoded> out;
      decoder.feed(std::string_view(stream).substr(0, split));
      for (auto& d : decode_all(decoder)) out.push_back(std::move(d));
      for (std::size_t at = split; at < stream.size(); at += step) {
        decoder.feed(std::string_view(stream).substr(at, step));
        for (auto& d : decode_all(decoder)) out.push_back(std::move(d));
      }
      REQUIRE(out.size() == expected.size());
      for (std::size_t i = 0; i < out.size(); ++i) CHECK(message(out[i]) == expected[i]);
      CHECK(decoder.buffered() == 0);
    }
  }
}

TEST_CASE("an incomplete line waits for more, and is reported if the stream ends") {
  json_line_decoder decoder(1 << 20);
  decoder.feed("{\"a\":");
  CHECK_FALSE(decoder.next());
  CHECK(decoder.buffered() == 5);
  auto truncated = decoder.finish();
  REQUIRE(truncated);
  CHECK(truncated->code() == forkipc::errc::truncated_message);
  CHECK_FALSE(decoder.finish());  // once only
}

TEST_CASE("bad lines are errors that name what was wrong; the next line decodes") {
  const auto out = decode("{\"a\":1}\n{\"a\":}\n\n[1,2\n\"\xff\"\n{\"b\":2}\n");
  REQUIRE(out.size() == 6);
  CHECK(message(out[0]) == json{{"a", 1}});
  CHECK(problem(out[1]).code() == forkipc::errc::malformed_message);
  CHECK(std::string(problem(out[1]).what()).find("{\\\"a\\\":}") != std::string::npos);
  CHECK(problem(out[2]).code() == forkipc::errc::malformed_message);
  CHECK(std::string(problem(out[2]).what()).find("empty line") != std::string::npos);
  CHECK(problem(out[3]).code() == forkipc::errc::malformed_message);
  CHECK(std::string(problem(out[4]).what()).find("invalid UTF-8") != std::string::npos);
  // The excerpt shows the bad byte escaped, so the error text itself is valid UTF-8.
  CHECK(std::string(problem(out[4]).what()).find("\\xFF") != std::string::npos);
  CHECK(message(out[5]) == json{{"b", 2}});
}

TEST_CASE("an over-long line is an error, dropped as it streams in, never buffered past the limit") {
  constexpr std::size_t limit = 1000;
  json_line_decoder decoder(limit);
  decoder.feed("{\"before\":1}\n\"");
  std::vector<decoded> out = decode_all(decoder);
  const std::string piece(100, 'x');
  for (int i = 0; i < 1000; ++i) {  // 100 kB of one line
    decoder.feed(piece);
    for (auto& d : decode_all(decoder)) out.push_back(std::move(d));
    CHECK(decoder.buffered() <= limit + piece.size());
  }
  decoder.feed("\"\n{\"after\":2}\n");
  for (auto& d : decode_all(decoder)) out.push_back(std::move(d));
  REQUIRE(out.size() == 3);
  CHECK(message(out[0]) == json{{"before", 1}});
  CHECK(problem(out[1]).code() == forkipc::errc::message_too_large);
  CHECK(message(out[2]) == json{{"after", 2}});
  CHECK_FALSE(decoder.finish());

  // A whole over-long line in one piece is reported too.
  const auto whole = decode("\"" + std::string(2000, 'y') + "\"\n[]\n", limit);
  REQUIRE(whole.size() == 2);
  CHECK(problem(whole[0]).code() == forkipc::errc::message_too_large);
  CHECK(message(whole[1]) == json::array());

  // Exactly at the limit is fine.
  const auto at_limit = decode("\"" + std::string(limit - 2, 'z') + "\"\n", limit);
  REQUIRE(at_limit.size() == 1);
  CHECK(message(at_limit[0]).get_ref<const std::string&>().size() == limit - 2);
}

TEST_CASE("NODE_ internal messages are set apart, as Node does") {
  const auto out = decode(
      "{\"cmd\":\"NODE_HANDLE_ACK\"}\n{\"cmd\":\"NODE_\"}\n{\"cmd\":\"NODEX_Y\"}\n"
      "{\"cmd\":7}\n[\"NODE_HANDLE\"]\n");
  REQUIRE(out.size() == 5);
  CHECK(std::holds_alternative<internal_message>(out[0]));
  CHECK(message(out[1]) == json{{"cmd", "NODE_"}});
  CHECK(message(out[2]) == json{{"cmd", "NODEX_Y"}});
  CHECK(message(out[3]) == json{{"cmd", 7}});
  CHECK(message(out[4]) == json::array({"NODE_HANDLE"}));
}

TEST_CASE("lone surrogate escapes, as Node writes them, decode to U+FFFD") {
  const auto out = decode(
      "\"\\ud800\"\n\"a\\udc00b\"\n\"\\ud83d\\ude00\"\n{\"k\\ud800\":\"\\\\ud800\"}\n\"\\ud800\\u0041\"\n");
  REQUIRE(out.size() == 5);
  CHECK(message(out[0]) == "\xEF\xBF\xBD");
  CHECK(message(out[1]) == "a\xEF\xBF\xBD" "b");
  CHECK(message(out[2]) == "😀");                                  // a pair stays a pair
  CHECK(message(out[3]) == json{{"k\xEF\xBF\xBD", "\\ud800"}});  // an escaped backslash is text
  CHECK(message(out[4]) == "\xEF\xBF\xBD" "A");
}

TEST_CASE("numbers keep their kind and their edges") {
  const auto out = decode("9223372036854775807\n-9223372036854775808\n18446744073709551615\n"
                          "1.7976931348623157e308\n5e-324\n-0.0\n1e400\n");
  REQUIRE(out.size() == 7);
  CHECK(message(out[0]).is_number_integer());
  CHECK(message(out[0]) == std::numeric_limits<std::int64_t>::max());
  CHECK(message(out[1]) == std::numeric_limits<std::int64_t>::min());
  CHECK(message(out[2]).is_number_unsigned());
  CHECK(message(out[2]) == std::numeric_limits<std::uint64_t>::max());
  CHECK(message(out[3]) == std::numeric_limits<double>::max());
  CHECK(message(out[4]) == 5e-324);
  CHECK(message(out[5]).is_number_float());
  CHECK(problem(out[6]).code() == forkipc::errc::malformed_message);  // out of double's range
}

TEST_CASE("the excerpt of a line is short, printable and valid UTF-8") {
  using forkipc::detail::excerpt;
  CHECK(excerpt("abc") == "\"abc\"");
  CHECK(excerpt("a\tb\xff") == "\"a\\x09b\\xFF\"");
  CHECK(excerpt("中文") == "\"中文\"");
  const std::string long_line(1000, 'l');
  const std::string short_form = excerpt(long_line);
  CHECK(short_form.size() < 100);
  CHECK(short_form.find("1000 bytes") != std::string::npos);
}

namespace {

std::string nested(std::size_t depth, std::string_view open = "[", std::string_view close = "]") {
  std::string text;
  for (std::size_t i = 0; i < depth; ++i) text += open;
  text += "0";
  for (std::size_t i = 0; i < depth; ++i) text += close;
  return text;
}

}  // namespace

TEST_CASE("nesting deeper than max_nesting_depth is an error with an excerpt, and the next line decodes") {
  // Small limits go through the fast reader, large ones through nlohmann's parser: both hold.
  for (std::size_t limit : {std::size_t{3}, std::size_t{300}, std::size_t{5000}}) {
    CAPTURE(limit);
    json_line_decoder decoder(std::size_t{64} << 20, limit);
    decoder.feed(nested(limit) + "\n" + nested(limit + 1) + "\n" + nested(limit + 1, "{\"a\":", "}") + "\n" +
                 R"(["[[[[[[[[[[ a string, not nesting \" ]]]"])" + "\n" + nested(1'000'000) + "\n{\"next\":1}\n");
    const auto out = decode_all(decoder);
    REQUIRE(out.size() == 6);
    CHECK(message(out[0]).is_array());
    for (int i : {1, 2, 4}) {
      CAPTURE(i);
      CHECK(problem(out[i]).code() == forkipc::errc::nesting_too_deep);
      const std::string what = problem(out[i]).what();
      CHECK(what.find("nested more than " + std::to_string(limit) + " levels deep") != std::string::npos);
      CHECK(what.find(i == 2 ? "\"{\\\"a\\\":{" : "\"[[[[") != std::string::npos);  // the excerpt
    }
    CHECK(message(out[3]).size() == 1);
    CHECK(message(out[5]) == json{{"next", 1}});
  }
}

TEST_CASE("encoding a value nested too deep throws, at any depth, and leaves the output as it was") {
  json deep = 0;
  for (int i = 0; i < 1'000'000; ++i) deep = json::array({std::move(deep)});
  std::string out = "kept";
  CHECK_THROWS_AS(forkipc::detail::encode_json_line(deep, out), forkipc::error);
  CHECK(out == "kept");
  json at_limit = 0;
  for (int i = 0; i < 5000; ++i) at_limit = json::array({std::move(at_limit)});
  out.clear();
  forkipc::detail::encode_json_line(at_limit, out);
  CHECK(out == nested(5000) + "\n");
  try {
    forkipc::detail::encode_json_line(at_limit, out, 4999);
    FAIL("a value over the limit was encoded");
  } catch (const forkipc::error& e) {
    CHECK(e.code() == forkipc::errc::unencodable_message);
    CHECK(std::string(e.what()).find("nested more than 4999 levels deep") != std::string::npos);
  }
}
