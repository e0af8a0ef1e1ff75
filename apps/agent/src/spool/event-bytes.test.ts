import { describe, expect, it } from "vitest";
import { EventBytes } from "./event-bytes.ts";

describe("EventBytes", () => {
  it("packs copies into shared chunks, each view holding exactly its bytes", () => {
    const bytes = new EventBytes(64);
    // 2 + 11 + 10 + 16 + 16 = 55 bytes fit in the first chunk of 64; the last 16 do not.
    const texts = ["{}", '"é€😀"', "x".repeat(10), "y".repeat(16), "z".repeat(16), "w".repeat(16)];
    const views = texts.map((t) => bytes.fromString(t));
    views.forEach((view, i) => expect(view.toString()).toBe(texts[i]));
    for (const view of views.slice(1, 5)) expect(view.buffer).toBe(views[0]!.buffer);
    expect(views[5]!.buffer).not.toBe(views[0]!.buffer);
    expect(views[5]!.byteLength).toBe(16);
  });

  it("copies bytes, so a later change to the source does not show", () => {
    const bytes = new EventBytes(64);
    const source = Buffer.from("hello world");
    const view = bytes.fromBytes(source.subarray(6));
    source.fill(0);
    expect(view.toString()).toBe("world");
  });

  it("gives an event larger than a quarter chunk its own buffer", () => {
    const bytes = new EventBytes(64);
    const small = bytes.fromString("a");
    const large = bytes.fromString("b".repeat(17));
    expect(large.toString()).toBe("b".repeat(17));
    expect(large.buffer).not.toBe(small.buffer);
    expect(bytes.fromBytes(Buffer.from("c".repeat(40))).toString()).toBe("c".repeat(40));
  });
});

describe("EventBytes.wrapped", () => {
  const head = Buffer.from('{"e":');
  const tail = Buffer.from("}\n");

  it("puts head, JSON and tail side by side, and consecutive ones next to each other", () => {
    const bytes = new EventBytes(128);
    const a = bytes.wrapped(head, '{"x":"é"}', Buffer.byteLength('{"x":"é"}'), tail);
    const b = bytes.wrapped(head, "[1,2]", 5, tail);
    expect(a.whole.toString()).toBe('{"e":{"x":"é"}}\n');
    expect(a.inner.toString()).toBe('{"x":"é"}');
    expect(b.inner.toString()).toBe("[1,2]");
    expect(b.whole.buffer).toBe(a.whole.buffer);
    expect(b.whole.byteOffset).toBe(a.whole.byteOffset + a.whole.length);
  });

  it("gives one larger than a quarter chunk its own buffer, still whole", () => {
    const bytes = new EventBytes(64);
    const json = `"${"q".repeat(20)}"`;
    const big = bytes.wrapped(head, json, json.length, tail);
    expect(big.whole.toString()).toBe(`{"e":${json}}\n`);
    expect(big.inner.toString()).toBe(json);
  });
});
