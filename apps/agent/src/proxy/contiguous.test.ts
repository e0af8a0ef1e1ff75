import { describe, expect, it } from "vitest";
import { contiguous } from "./session.ts";
import { FrameReader } from "./wire.ts";

const query = (sql: string) => {
  const body = Buffer.from(`${sql}\0`);
  const out = Buffer.alloc(5 + body.length);
  out[0] = 0x51;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
};

describe("contiguous", () => {
  it("forwards the frames of one chunk as one slice, without copying", () => {
    const chunk = Buffer.concat([query("select 1"), query("select 2")]);
    const frames = new FrameReader(1024).push(chunk);
    const joined = contiguous(frames);
    expect(joined.equals(chunk)).toBe(true);
    expect(joined.buffer).toBe(chunk.buffer);
  });

  it("never spans bytes between frames that share a pooled buffer but are not adjacent", () => {
    // Small Buffer.from / concat results come from Node's shared pool: two frames queued from different
    // reads can sit in one ArrayBuffer with someone else's bytes between them (here "!!!!!!!!!!").
    const a = query("select 1");
    const b = query("select 2");
    const shared = Buffer.alloc(a.length + 10 + b.length, "!");
    a.copy(shared, 0);
    b.copy(shared, a.length + 10);
    const frames = [
      { type: 0x51, raw: shared.subarray(0, a.length), bodyStart: 5 },
      { type: 0x51, raw: shared.subarray(a.length + 10), bodyStart: 5 },
    ];
    expect(contiguous(frames).equals(Buffer.concat([a, b]))).toBe(true);
  });
});
