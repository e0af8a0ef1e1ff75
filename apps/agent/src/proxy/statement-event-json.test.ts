import { randomUUID } from "node:crypto";
import { ZAuditEvent, type TAuditEvent } from "@portcullis/agent-protocol";
import { describe, expect, it } from "vitest";
import { isoTimestamp, StatementEventJson } from "./statement-event-json.ts";

function event(overrides: Partial<TAuditEvent> = {}): TAuditEvent {
  return {
    id: randomUUID(),
    type: "statement",
    occurredAt: new Date(1_764_000_000_123).toISOString(),
    actorId: randomUUID(),
    actorName: "dev@demo.local",
    actorKind: "user",
    connectionId: randomUUID(),
    connectionName: "prod-db",
    environment: "production",
    sessionId: randomUUID(),
    clientAddr: "127.0.0.1:5555",
    applicationName: "psql",
    statement: "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
    fingerprint: "a1b2c3",
    statementClass: "read",
    decision: "masked",
    ruleId: "default",
    ruleName: "Default: allow",
    message: null,
    tables: Object.freeze(["public.pgbench_accounts"]) as string[],
    columns: Object.freeze(["public.pgbench_accounts.abalance"]) as string[],
    maskedColumns: ["public.users.email"],
    rowCount: 1,
    durationMs: 0,
    error: null,
    ...overrides,
  };
}

describe("StatementEventJson", () => {
  it("gives exactly JSON.stringify(event), hostile strings and nulls included", () => {
    const hostile = 'q"uote \\ back\nnew\u0000nul \u2028 \ud800 lone 😀 </script>';
    const cases: Partial<TAuditEvent>[] = [
      {},
      { statement: hostile, message: hostile, error: hostile, ruleName: hostile, applicationName: hostile },
      { statement: null, fingerprint: null, statementClass: null, ruleId: null, ruleName: null },
      { rowCount: null, durationMs: 12.5, tables: [], columns: [], maskedColumns: [] },
      { actorId: null, connectionId: null, connectionName: null, sessionId: null, clientAddr: null },
      { tables: [hostile, "b"], columns: Object.freeze([hostile]) as string[], decision: "blocked" },
    ];
    const writer = new StatementEventJson();
    for (const overrides of cases) {
      const e = event(overrides);
      const json = writer.write(e);
      expect(json).toBe(JSON.stringify(e));
      expect(ZAuditEvent.parse(JSON.parse(json))).toEqual(e);
    }
    // Numbers JSON has no word for come out as JSON.stringify writes them, too.
    for (const durationMs of [Number.NaN, Number.POSITIVE_INFINITY, -0, 1e21, 5e-7]) {
      const e = event({ durationMs, rowCount: 0 });
      expect(writer.write(e)).toBe(JSON.stringify(e));
    }
  });

  it("reuses the previous event's parts only while they are unchanged", () => {
    const writer = new StatementEventJson();
    const first = event();
    // A session's fields are fixed for its life (the writer's contract): keep them, vary the rest.
    const { actorId, actorName, actorKind, connectionId, connectionName, environment, sessionId } = first;
    const same = { actorId, actorName, actorKind, connectionId, connectionName, environment, sessionId };
    for (const overrides of [
      {},
      { statement: "SELECT 2" },
      { statement: "SELECT 3" },
      { fingerprint: "other" },
      { statementClass: "write" },
      { statement: null },
      { tables: Object.freeze(["public.other"]) as string[] },
      { columns: Object.freeze([] as string[]) as string[] },
      // Another session's event through the same writer gets that session's fields.
      { sessionId: randomUUID(), actorId: randomUUID(), actorName: "other@demo.local" },
    ] satisfies Partial<TAuditEvent>[]) {
      const next = event({ ...same, ...overrides });
      expect(writer.write(next)).toBe(JSON.stringify(next));
    }
  });

  it("does not reuse the JSON of an array that was changed (only frozen arrays are cached)", () => {
    const writer = new StatementEventJson();
    const tables = ["a"];
    const e = event({ tables });
    expect(writer.write(e)).toBe(JSON.stringify(e));
    tables.push("b");
    expect(writer.write(e)).toBe(JSON.stringify(e));
  });
});

describe("isoTimestamp", () => {
  it("equals Date#toISOString across second, day and year boundaries and odd inputs", () => {
    const starts = [
      0,
      1_764_000_000_000,
      Date.UTC(2026, 11, 31, 23, 59, 59, 990),
      -1_500,
      253_402_300_799_990,
    ];
    for (const start of starts)
      for (let ms = start; ms < start + 40; ms++) expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString());
    for (const ms of [1.5, 1_764_000_000_000.25, 8.64e15])
      expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString());
    // Out of order (an event's start time, recorded after later ones) comes out right too.
    for (const ms of [1_764_000_005_001, 1_764_000_004_999, 1_764_000_005_000, 1_764_000_005_999])
      expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString());
  });
});
