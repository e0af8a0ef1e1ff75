import { describe, expect, it } from "vitest";
import { canonicalJson, chainHash, GENESIS_HASH, type TChainedFields } from "./audit-chain.ts";
import { newAuditEvent } from "./test-support.ts";

// Fixed id and time: the hash must be reproducible.
const event: TChainedFields = newAuditEvent({
  id: "6f1c1c38-51a4-4f39-9d4e-0d2f1c4f6a11",
  occurredAt: new Date("2026-11-23T10:00:00.000Z"),
  durationMs: 0.4,
  details: { b: 2, a: { d: [1, { z: 1, y: 2 }], c: null } },
});

describe("canonicalJson", () => {
  it("sorts keys at every level, so jsonb's reordering does not change the hash", () => {
    expect(canonicalJson({ b: 1, a: { d: 1, c: [{ y: 1, x: 2 }] } })).toBe(
      '{"a":{"c":[{"x":2,"y":1}],"d":1},"b":1}',
    );
  });
});

describe("chainHash", () => {
  it("is deterministic and depends on the previous hash", () => {
    const h1 = chainHash(GENESIS_HASH, event);
    expect(
      chainHash(GENESIS_HASH, { ...event, details: { a: { c: null, d: [1, { y: 2, z: 1 }] }, b: 2 } }),
    ).toBe(h1);
    expect(chainHash(h1, event)).not.toBe(h1);
    expect(h1).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ["statement", { statement: "select 2" }],
    ["decision", { decision: "blocked" }],
    ["actor", { actorName: "mallory@demo.local" }],
    ["rows", { rowCount: 2 }],
    ["time", { occurredAt: new Date("2026-11-23T10:00:00.001Z") }],
    ["tables", { tables: ["customers"] }],
  ])("changes when the %s changes", (_what, change) => {
    expect(chainHash(GENESIS_HASH, { ...event, ...change })).not.toBe(chainHash(GENESIS_HASH, event));
  });
});
