// A Node parent for the C++ child tests/helpers/interop_child. Usage:
//   node parent_of_cpp.js <fork|spawn> <path of interop_child> <async|sync> <parent|child>
// Starts the child as cpp_child.js says, sends it every value of js_values.js, and checks each
// answer against what JSON makes of the value, with lone surrogates as U+FFFD. Then the channel
// ends: "parent" calls child.disconnect(), "child" asks the child to disconnect. Reports
// {sent, answers, mismatches, hello (the child's first message), events} once the child has
// closed, or once it has exited for "parent": Node never emits "close" after its own
// disconnect() (nodejs/node#19433), whatever the child.
"use strict";
const { isDeepStrictEqual } = require("util");
const { start, report, watchdog } = require("./cpp_child.js");
const values = require("./js_values.js");

const [how, program, api, ender] = process.argv.slice(2);
const { child, record } = start(how, program, api);
watchdog(20000, child, record);

const wellFormed = (v) => {
  if (typeof v === "string") return v.toWellFormed();
  if (Array.isArray(v)) return v.map(wellFormed);
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toWellFormed(), wellFormed(x)]));
  return v;
};
const short = (v) => {
  const text = JSON.stringify(v);
  return text.length > 120 ? `${text.slice(0, 120)}... (${text.length} characters)` : text;
};

for (const [, value] of values) child.send(value);

const mismatches = [];
child.on("message", () => {
  const answers = record.messages.length - 1;  // the first message is the child's hello
  if (answers === 0 || answers > values.length) return;
  const [what, value] = values[answers - 1];
  const expected = wellFormed(JSON.parse(JSON.stringify(value)));
  const got = record.messages[answers];
  if (!isDeepStrictEqual(got, expected)) mismatches.push({ what, expected: short(expected), got: short(got) });
  if (answers < values.length) return;
  if (ender === "parent") child.disconnect();
  else child.send({ do: "disconnect" });
});

const done = () =>
  report({
    sent: values.length,
    answers: record.messages.length - 1,
    mismatches,
    hello: record.messages[0],
    events: record.events,
  });
child.on(ender === "parent" ? "exit" : "close", () => setImmediate(done));
