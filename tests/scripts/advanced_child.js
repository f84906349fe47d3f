// A Node child for a forkipc parent in serialization "advanced". It first sends values only
// JavaScript makes (a Buffer, a Map, a BigInt, a Date, ...), then answers every message m with
// {echo: m, kinds: what each of m's members is in JavaScript, facts: a few computed from them}.
// It exits once the parent disconnects. With the argument "cycle" it sends a cyclic value
// first, then {after: "the cycle"}.
"use strict";

const kind = (v) => (Buffer.isBuffer(v) ? "Buffer" : Object.prototype.toString.call(v).slice(8, -1));

if (process.argv[2] === "cycle") {
  const cyclic = { name: "cyclic" };
  cyclic.self = cyclic;
  process.send(cyclic);
  process.send({ after: "the cycle" });
}

process.send({
  buffer: Buffer.from([1, 2, 3]),
  map: new Map([["a", 1], [2, "b"]]),
  big: 2n ** 70n,
  negative: -(2n ** 64n) - 1n,
  date: new Date(0),
  u16: new Uint16Array([1, 65535]),
  set: new Set(["x"]),
  holes: [undefined, , 3],
  regexp: /a+/g,
  error: new TypeError("bad"),
});

process.on("message", (m) => {
  const kinds = {};
  const facts = {};
  if (m !== null && typeof m === "object") {
    for (const [name, v] of Object.entries(m)) kinds[name] = kind(v);
    if (m.map instanceof Map) facts.map = [...m.map.entries()].map(([k, v]) => `${kind(k)} ${String(k)} => ${kind(v)}`);
    if (typeof m.big === "bigint") facts.big = String(m.big * 2n);
    if (m.when instanceof Date) facts.when = m.when.toISOString();
    if (Buffer.isBuffer(m.data)) facts.data = m.data.toString("hex");
  }
  process.send({ echo: m, kinds, facts });
});
process.on("disconnect", () => process.exit(0));
