import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { canonicalJson, chainBody, chainHash, GENESIS_HASH, type TChainedFields } from "./audit-chain.ts";
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

/** The chain's definition: canonicalJson of the hashed fields (what chainBody must reproduce byte for byte). */
function referenceBody(e: TChainedFields): string {
  const { occurredAt, details, ...rest } = e;
  return canonicalJson({ ...rest, occurredAt: occurredAt.toISOString(), details: details ?? null });
}

describe("chainBody", () => {
  it.each<[string, Partial<TChainedFields>]>([
    ["the fixture", {}],
    [
      "nulls everywhere they are allowed",
      {
        actorId: null,
        connectionId: null,
        connectionName: null,
        environment: null,
        agentId: null,
        sessionId: null,
        clientAddr: null,
        applicationName: null,
        statement: null,
        fingerprint: null,
        statementClass: null,
        ruleId: null,
        ruleName: null,
        message: null,
        rowCount: null,
        durationMs: null,
        error: null,
        details: null,
      },
    ],
    [
      "text that needs escaping",
      {
        statement: "select '\"quoted\"', E'\\n', '\u2028 é 𝄞' -- \t\r\n",
        message: "line\nbreak \u0001 control",
        actorName: "o'brien@demo.local",
      },
    ],
    [
      "arrays and numbers",
      {
        tables: ["public.customers", 'a"b'],
        columns: ["public.customers.email"],
        maskedColumns: ["customers.ssn"],
        rowCount: 0,
        durationMs: 1e-7,
      },
    ],
    ["details with unsorted, nested keys", { details: { z: [3, { b: null, a: "x" }], a: { y: 1, x: [] } } }],
    ["undefined details", { details: undefined }],
  ])("equals the canonical JSON of the fields for %s", (_what, change) => {
    const e = { ...event, ...change };
    expect(chainBody(e)).toBe(referenceBody(e));
  });

  it("keeps the hashes of chains already stored (pinned value)", () => {
    expect(
      createHash("sha256").update(GENESIS_HASH).update("\n").update(referenceBody(event)).digest("hex"),
    ).toBe(chainHash(GENESIS_HASH, event));
    expect(chainHash(GENESIS_HASH, event)).toBe(
      "11aa7276e2cfbbea7be6c046172ace72f9fd20db2b5713bbbfe836f11dbb9396",
    );
  });
});
