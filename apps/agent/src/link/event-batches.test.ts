import { parseAgentMessage, type TAuditEvent } from "@portcullis/agent-protocol";
import { describe, expect, it } from "vitest";
import { linkUrl } from "./control-plane-link.ts";
import { buildEventBatch, serializeWithinLimit } from "./event-batches.ts";
import { wireAuditEvent as event } from "./test-events.ts";

/** What the spool hands the link: each event's id and its JSON. */
const spooled = (events: ReturnType<typeof event>[]) =>
  events.map((e) => ({ id: e.id, json: JSON.stringify(e) }));

describe("buildEventBatch", () => {
  it("produces a frame the contract accepts, capped by count", () => {
    const events = Array.from({ length: 250 }, (_, i) => event(`SELECT ${i}`));
    const batch = buildEventBatch(spooled(events), 200, 1024 * 1024)!;
    expect(batch.ids).toEqual(events.slice(0, 200).map((e) => e.id));
    expect(batch.full).toBe(true);
    expect(buildEventBatch(spooled(events.slice(0, 199)), 200, 1024 * 1024)!.full).toBe(false);
    const parsed = parseAgentMessage(batch.frame);
    expect("error" in parsed ? parsed.error : parsed.type).toBe("events");
  });

  it("caps frames by bytes but always sends at least one event", () => {
    const events = Array.from({ length: 10 }, () => event("x".repeat(10_000)));
    const batch = buildEventBatch(spooled(events), 200, 25_000)!;
    expect(batch.ids).toHaveLength(2);
    expect(batch.full).toBe(true);
    expect(Buffer.byteLength(batch.frame)).toBeLessThan(25_000 + 100);
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
    expect(Buffer.byteLength(batch.frame)).toBeLessThan(100_100);
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
