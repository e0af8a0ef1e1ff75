import {
  encodeMessage,
  parseAgentMessage,
  PROTOCOL_VERSION,
  type TAuditEvent,
} from "@portcullis/agent-protocol";
import { describe, expect, it } from "vitest";
import { linkUrl } from "./control-plane-link.ts";
import { buildEventBatch, serializeWithinLimit } from "./event-batches.ts";
import { wireAuditEvent as event } from "./test-events.ts";

/** What the spool hands the link: each event's id and its JSON's UTF-8 bytes. */
const spooled = (events: ReturnType<typeof event>[]) =>
  events.map((e) => ({ id: e.id, data: Buffer.from(JSON.stringify(e)) }));

describe("buildEventBatch", () => {
  it("produces a frame the contract accepts, capped by count", () => {
    const events = Array.from({ length: 250 }, (_, i) => event(`SELECT ${i}`));
    const batch = buildEventBatch(spooled(events), 200, 1024 * 1024)!;
    expect(batch.ids).toEqual(events.slice(0, 200).map((e) => e.id));
    expect(batch.full).toBe(true);
    expect(buildEventBatch(spooled(events.slice(0, 199)), 200, 1024 * 1024)!.full).toBe(false);
    const parsed = parseAgentMessage(batch.frame.toString());
    expect("error" in parsed ? parsed.error : parsed.type).toBe("events");
    // The very bytes the control plane would get from serializing the batch whole.
    const whole = encodeMessage({ v: PROTOCOL_VERSION, type: "events", events: events.slice(0, 200) });
    expect(batch.frame.equals(Buffer.from(whole))).toBe(true);
  });

  it("caps frames by bytes (UTF-8 bytes, not characters) but always sends at least one event", () => {
    // 5,000 three-byte characters: 15,000 bytes each, so only one fits in 25,000.
    const events = Array.from({ length: 10 }, () => event("€".repeat(5_000)));
    const batch = buildEventBatch(spooled(events), 200, 25_000)!;
    expect(batch.ids).toHaveLength(1);
    expect(batch.full).toBe(true);
    expect(batch.frame.length).toBeLessThan(25_000 + 100);
    const ascii = Array.from({ length: 10 }, () => event("x".repeat(10_000)));
    expect(buildEventBatch(spooled(ascii), 200, 25_000)!.ids).toHaveLength(2);
    expect(buildEventBatch([], 200, 25_000)).toBeNull();
  });

  it("trims an event too large for any frame, keeping its id and saying so", () => {
    const huge = event("y".repeat(900_000));
    const json = serializeWithinLimit(huge, 100_000);
    const trimmed = JSON.parse(json) as TAuditEvent;
    expect(trimmed.id).toBe(huge.id);
    expect(Buffer.byteLength(json)).toBeLessThan(100_000);
    expect(trimmed.message).toMatch(/trimmed by the agent/);
    const batch = buildEventBatch(spooled([huge]), 200, 100_000)!;
    expect(batch.ids).toEqual([huge.id]);
    expect(batch.frame.length).toBeLessThan(100_100);
  });
});

describe("linkUrl", () => {
  it("points a base URL at the link endpoint and keeps explicit paths", () => {
    expect(linkUrl("http://127.0.0.1:3000")).toBe("ws://127.0.0.1:3000/api/agents/connect");
    expect(linkUrl("https://cp.example.com/")).toBe("wss://cp.example.com/api/agents/connect");
    expect(linkUrl("ws://cp:3000/custom/path")).toBe("ws://cp:3000/custom/path");
    expect(() => linkUrl("ftp://cp")).toThrow();
  });
});
