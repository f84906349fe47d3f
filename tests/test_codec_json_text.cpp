// The fast JSON reader and writer, against nlohmann's own: they must agree on every text.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include <forkipc/error.hpp>

#include "codec/json_text.hpp"

using forkipc::json;
using forkipc::detail::read_json;
using forkipc::detail::write_json;

namespace {

std::string written(const json& value) {
  std::string out;
  write_json(value, out);
  return out;
}

// Same value and same kind of number, all the way down (json's == calls 1 and 1.0 equal). Signed
// and unsigned integers count as one kind: a reader makes every non-negative integer unsigned.
bool identical(const json& a, const json& b) {
  if (a.is_number_integer() && b.is_number_integer()) return a == b;
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!identical(a[i], b[i])) return false;
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(), jt = b.begin(); it != a.end(); ++it, ++jt)
      if (it.key() != jt.key() || !identical(*it, *jt)) return false;
    return true;
  }
  if (a.is_number_float()) {
    const double x = a.get<double>(), y = b.get<double>();
    return x == y && std::signbit(x) == std::signbit(y);
  }
  return a == b;
}

// nlohmann's reading of text, or discarded when it rejects it.
json reference(std::string_view text) {
  return json::parse(text.data(), text.data() + text.size(), nullptr, /*allow_exceptions=*/false);
}

class generator {
 public:
  explicit generator(unsigned seed) : random_(seed) {}

  json value(int depth = 0) {
    switch (pick(depth < 4 ? 8 : 6)) {
      case 0: return nullptr;
      case 1: return pick(2) == 0;
      case 2: return integer();
      case 3: return real();
      case 4:
      case 5: return text();
      case 6: {
        json a = json::array();
        for (int i = pick(5); i > 0; --i) a.push_back(value(depth + 1));
        return a;
      }
      default: {
        json o = json::object();
        for (int i = pick(5); i > 0; --i) o[text()] = value(depth + 1);
        return o;
      }
    }
  }

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(random_); }

 private:
  json integer() {
    switch (pick(4)) {
      case 0: return pick(1000) - 500;
      case 1: return std::numeric_limits<std::int64_t>::min() + pick(3);
      case 2: return std::numeric_limits<std::uint64_t>::max() - static_cast<unsigned>(pick(3));
      default: return static_cast<std::int64_t>(random_());
    }
  }

  json real() {
    switch (pick(5)) {
      case 0: return std::uniform_real_distribution<double>(-1e6, 1e6)(random_);
      case 1: return std::ldexp(1.0, pick(2000) - 1074);  // from the smallest subnormal up
      case 2: return static_cast<double>(pick(100));      // integral doubles keep their kind
      case 3: return -0.0;
      default: return std::numeric_limits<double>::max();
    }
  }

  std::string text() {
    static const char* const pieces[] = {"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f",
                                         "\x7f", "é", "中", "😀", "\u2028", "12345678", "longer text"};
    std::string s;
    for (int i = pick(12); i > 0; --i) s += pieces[pick(sizeof pieces / sizeof *pieces)];
    return s;
  }

  std::mt19937_64 random_;
};

}  // namespace

TEST_CASE("what write_json writes reads back the same, through both readers") {
  generator g(20261126);
  for (int i = 0; i < 5000; ++i) {
    const json original = g.value();
    const std::string text = written(original);
    CAPTURE(text);
    json fast;
    REQUIRE(read_json(text, fast));
    CHECK(identical(fast, original));
    CHECK(identical(reference(text), original));
  }
}

TEST_CASE("whatever read_json takes, nlohmann reads the same way; what it declines, nlohmann rejects or keeps for itself") {
  generator g(7);
  std::mt19937 random(11);
  const char alphabet[] = "{}[]\",:\\u0123456789abcdefEe+-.tnl \n\xff\xc3\xa9";
  for (int i = 0; i < 20000; ++i) {
    std::string text = written(g.value());
    for (int edits = 1 + g.pick(3); edits > 0 && !text.empty(); --edits) {
      const std::size_t at = random() % text.size();
      switch (g.pick(3)) {
        case 0: text[at] = alphabet[random() % (sizeof alphabet - 1)]; break;
        case 1: text.erase(at, 1); break;
        default: text.insert(at, 1, alphabet[random() % (sizeof alphabet - 1)]); break;
      }
    }
    CAPTURE(text);
    json fast;
    const json slow = reference(text);
    if (read_json(text, fast)) {
      REQUIRE_FALSE(slow.is_discarded());
      CHECK(identical(fast, slow));
    }
  }
}

TEST_CASE("numbers read as nlohmann reads them") {
  const auto read = [](std::string_view text) {
    json out;
    REQUIRE(read_json(text, out));
    CHECK(identical(out, reference(text)));
    return out;
  };
  CHECK(read("0").is_number_unsigned());
  CHECK(read("-0").is_number_integer());
  CHECK(read("-0.0").is_number_float());
  CHECK(read("18446744073709551615").is_number_unsigned());
  CHECK(read("18446744073709551616").is_number_float());  // past 64 bits
  CHECK(read("-9223372036854775809").is_number_float());
  CHECK(read("1E+2") == 100.0);
  CHECK(read(" [ 1 , 2 ]\r\n").size() == 2);
  CHECK(read("{\"k\":1,\"k\":2}") == json{{"k", 2}});  // the last of duplicate keys
  json out;
  for (const char* invalid : {"01", "-", "1.", ".5", "+1", "1e", "0x10", "NaN", "Infinity", "tru", "nul",
                              "[1,]", "{\"a\":1,}", "{a:1}", "'x'", "\"\\x\"", "\"\t\"", "1 2", ""})
    CHECK_MESSAGE(!read_json(invalid, out), invalid);
  CHECK_FALSE(read_json("1e400", out));   // nlohmann's call: it rejects it
  CHECK_FALSE(read_json("\"\\ud800\"", out));  // lone surrogate: left to the repair path
  CHECK_FALSE(read_json(std::string(300, '[') + std::string(300, ']'), out));  // deep: nlohmann's
}

TEST_CASE("write_json writes as JSON.stringify does, and refuses invalid UTF-8") {
  CHECK(written(json{{"b", 1}, {"a", json::array({true, nullptr, "x"})}}) == "{\"a\":[true,null,\"x\"],\"b\":1}");
  CHECK(written("\"\\/\b\f\n\r\t\x01\x7f") == "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\x7f\"");
  CHECK(written("中\u2028😀") == "\"中\u2028😀\"");
  CHECK(written(1.0) == "1.0");
  CHECK(written(-0.0) == "-0.0");
  CHECK(written(0.1) == "0.1");
  CHECK(written(1e300) == "1e+300");
  CHECK(written(std::nan("")) == "null");
  CHECK(written(-std::numeric_limits<double>::infinity()) == "null");
  CHECK(written(std::numeric_limits<std::int64_t>::min()) == "-9223372036854775808");
  for (const char* invalid : {"\xff", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "ok\xe4\xb8"}) {
    std::string out;
    CHECK_THROWS_AS(write_json(std::string(invalid), out), forkipc::error);
  }
}
