// The values the Node interop tests send from JavaScript, as [what, value] pairs: every kind of
// JSON value, and what only JavaScript makes (NaN, Buffers, Dates, lone surrogates, doubles
// beyond 2^53). tests/test_node.cpp holds what a C++ peer must receive for each `what`.
"use strict";

// 1 MiB of ASCII, then a lone surrogate and an astral character.
const mebibyte = "0123456789abcdef".repeat(65536) + "\ud800" + "\u{1F600}";

module.exports = [
  ["null", null],
  ["true", true],
  ["false", false],
  ["zero", 0],
  ["negative zero", -0],
  ["minus one", -1],
  ["max safe integer", Number.MAX_SAFE_INTEGER],
  ["2^53 + 1", 9007199254740993],  // no such double: it is 2^53
  ["2^63", 2 ** 63],
  ["-2^63", -(2 ** 63)],
  ["2^64", 2 ** 64],
  ["0.1 + 0.2", 0.1 + 0.2],
  ["1e21", 1e21],
  ["smallest double", 5e-324],
  ["largest double", Number.MAX_VALUE],
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
  ["Buffer", Buffer.from([0, 1, 127, 128, 255])],
  ["Date", new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789))],
  ["undefined and functions", { gone: undefined, kept: [undefined, () => 1] }],
  ["Map", new Map([["k", "v"]])],
  ["empty string", ""],
  ["CJK", "中文"],
  ["astral", "\u{1F600}\u{1D11E}\u{1F004}"],
  ["U+2028 and U+2029", "a\u2028b\u2029c"],
  ["control characters", "\0\x01\x1f\x7f \"\\/\b\f\n\r\t"],
  ["lone high surrogate", "\ud800"],
  ["lone low surrogate in text", "a\udc00b"],
  ["reversed pair", "\udc00\ud800"],
  ["high surrogate at the end", "x\ud83d"],
  ["surrogate pair", "\ud83d\ude00"],
  ["lone surrogate before an escape", "\ud800\n\\"],
  ["lone surrogate in a key", { "\udfff": "\ud800" }],
  ["U+FFFD itself", "\ufffd"],
  ["1 MiB string", mebibyte],
  ["array", [1, "two", null, 3.5, [true]]],
  ["object", { a: 1, b: { c: [1, 2, 3] }, "中": "文" }],
];
