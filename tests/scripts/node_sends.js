// A Node child: once started, sends each value of js_values.js as {what, value}, then
// {done: <how many>}; after that it answers every message with itself until the parent
// disconnects.
"use strict";
const values = require("./js_values.js");

for (const [what, value] of values) process.send({ what, value });
process.send({ done: values.length });
process.on("message", (message) => process.send(message));
