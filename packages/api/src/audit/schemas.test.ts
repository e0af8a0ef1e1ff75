import { describe, expect, it } from "vitest";
import { ZAuditEventDto, ZAuditEventFilter, ZAuditEventListInput, ZAuditEventQuery } from "./schemas.ts";

describe("ZAuditEventFilter", () => {
  it("accepts the documented filters", () => {
    const filter = {
      text: "customers",
      actor: "dev@demo.local",
      actorKind: "human",
      connection: "demo",
      environment: "production",
      decision: "blocked",
      table: "public.customers",
      from: "2026-01-01T00:00:00Z",
      to: "2026-01-02T00:00:00.000+01:00",
    };
    expect(ZAuditEventFilter.parse(filter)).toEqual(filter);
  });

  it("trims text", () => {
    expect(ZAuditEventFilter.parse({ text: "  drop table " })).toEqual({ text: "drop table" });
  });

  it.each([
    [{ decision: "maybe" }, "decision"],
    [{ actorKind: "robot" }, "actorKind"],
    [{ from: "yesterday" }, "from"],
    // Year 10000 and year -1 in UTC: Postgres and JavaScript do not read them back alike.
    [{ to: "9999-12-31T23:59:59-14:00" }, "to"],
    [{ from: "0000-01-01T00:00:00+14:00" }, "from"],
    [{ from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z" }, "from"],
    [{ actr: "dev@demo.local" }, ""],
  ])("rejects %j", (filter, path) => {
    const result = ZAuditEventFilter.safeParse(filter);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path.join(".")).toBe(path);
  });
});

describe("ZAuditEventListInput", () => {
  it("defaults to the first page of 50 with no filter", () => {
    expect(ZAuditEventListInput.parse({})).toEqual({ filter: {}, limit: 50 });
  });

  it("coerces a query-string limit and bounds it to 1..500", () => {
    expect(ZAuditEventListInput.parse({ limit: "500" }).limit).toBe(500);
    expect(ZAuditEventListInput.safeParse({ limit: "0" }).success).toBe(false);
    expect(ZAuditEventListInput.safeParse({ limit: "501" }).success).toBe(false);
    expect(ZAuditEventListInput.safeParse({ limit: "ten" }).success).toBe(false);
  });
});

describe("ZAuditEventDto", () => {
  const dto = {
    id: "6f1c2d1e-8a4b-4c3d-9e2f-1a2b3c4d5e6f",
    seq: "42",
    occurredAt: "2026-01-01T00:00:00.000Z",
    type: "statement",
    actorId: null,
    actorName: "dev@demo.local",
    actorKind: "human",
    connectionId: null,
    connectionName: "demo",
    environment: "production",
    agentId: null,
    sessionId: null,
    clientAddr: "127.0.0.1",
    applicationName: "psql",
    statement: "select count(*) from customers",
    fingerprint: null,
    statementClass: "read",
    decision: "allowed",
    ruleId: null,
    ruleName: null,
    message: null,
    tables: ["public.customers"],
    columns: [],
    maskedColumns: [],
    rowCount: 1,
    durationMs: 1.5,
    error: null,
    details: { before: { strategy: "partial" }, after: null },
    hash: "a".repeat(64),
  };

  it("accepts a JSON-safe event", () => {
    expect(ZAuditEventDto.parse(dto)).toEqual(dto);
  });

  it("rejects raw row types: bigint seq and Date times", () => {
    expect(ZAuditEventDto.safeParse({ ...dto, seq: 42n }).success).toBe(false);
    expect(ZAuditEventDto.safeParse({ ...dto, occurredAt: new Date() }).success).toBe(false);
  });

  it("rejects a decision outside the contract", () => {
    expect(ZAuditEventDto.safeParse({ ...dto, decision: "maybe" }).success).toBe(false);
  });
});

describe("ZAuditEventQuery (REST query string)", () => {
  it("names the offending parameter itself", () => {
    const result = ZAuditEventQuery.safeParse({ decision: "maybe", limit: "1000" });
    expect(result.error?.issues.map((i) => i.path.join(".")).sort()).toEqual(["decision", "limit"]);
  });

  it("splits cleanly into filter and page", () => {
    expect(ZAuditEventQuery.parse({ actor: "dev@demo.local", limit: "10", cursor: "abc" })).toEqual({
      actor: "dev@demo.local",
      limit: 10,
      cursor: "abc",
    });
  });
});
