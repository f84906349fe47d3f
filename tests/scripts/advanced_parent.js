// A Node parent that starts the C++ child tests/helpers/interop_child with serialization
// "advanced" (V8's format). Usage:
//   node advanced_parent.js <fork|spawn> <path of interop_child> <async|sync>
// Sends the child every value of advanced_values.js (a BigInt or undefined wrapped in {v: ...},
// since Node sends neither alone) and checks each answer with util.isDeepStrictEqual (an
// invalid Date, which is never equal to another, by its NaN time). Then a cyclic value, which
// the child reports as an error, and one more value, which must still come back. Reports
// {sent, answers, mismatches, cyclic, after, hello, events} once the child has exited.
"use strict";
const { isDeepStrictEqual } = require("util");
const { start, report, watchdog } = require("./cpp_child.js");
const values = require("./advanced_values.js");

const [how, program, api] = process.argv.slice(2);
const { child, record } = start(how, program, api, { serialization: "advanced" });
watchdog(30000, child, record);

const sendable = (v) => (typeof v === "bigint" || v === undefined ? { v } : v);
const same = (got, expected) =>
  expected instanceof Date && Number.isNaN(expected.getTime())
    ? got instanceof Date && Number.isNaN(got.getTime())
    : isDeepStrictEqual(got, expected);
const short = (v) => {
  const text = require("util").inspect(v, { depth: 4, breakLength: Infinity });
  return text.length > 160 ? `${text.slice(0, 160)}... (${text.length} characters)` : text;
};

for (const [, value] of values) child.send(sendable(value));
const cyclic = { name: "cyclic" };
cyclic.self = cyclic;
child.send(cyclic);
child.send({ after: "the cyclic one" });

const mismatches = [];
child.on("message", () => {
  const answers = record.messages.length - 1;  // the first message is the child's hello
  if (answers === 0 || answers > values.length) {
    if (answers === values.length + 2) child.disconnect();
    return;
  }
  const [what, value] = values[answers - 1];
  const got = record.messages[answers];
  if (!same(got, sendable(value))) mismatches.push({ what, expected: short(sendable(value)), got: short(got) });
});

child.on("exit", () =>
  setImmediate(() =>
    report({
      sent: values.length,
      answers: Math.min(record.messages.length - 1, values.length),
      mismatches,
      cyclic: record.messages[values.length + 1],
      after: record.messages[values.length + 2],
      hello: record.messages[0],
      events: record.events,
    })));
