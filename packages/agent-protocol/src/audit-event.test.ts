import { describe, expect, it } from "vitest";
import { conformAuditEvent, fitAuditNames, fitAuditText, type TAuditEvent, ZAuditEvent } from "./index.ts";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function event(overrides: Partial<TAuditEvent>): TAuditEvent {
  return {
    id: "00000000-0000-4000-8000-000000000001",
    type: "auth_failure",
    occurredAt: new Date().toISOString(),
    actorId: null,
    actorName: "dev@demo.local",
    actorKind: "unknown",
    connectionId: null,
    connectionName: "shop",
    environment: null,
    sessionId: null,
    clientAddr: "127.0.0.1",
    applicationName: "psql",
    statement: null,
    fingerprint: null,
    statementClass: null,
    decision: "denied",
    ruleId: null,
    ruleName: null,
    message: "wrong token",
    tables: [],
    columns: [],
    maskedColumns: [],
    rowCount: null,
    durationMs: null,
    error: null,
    ...overrides,
  };
}

describe("fitAuditText", () => {
  it("cuts between characters, never inside a surrogate pair", () => {
    const text = `${"a".repeat(9)}\u{1F600}b`;
    expect(fitAuditText(text, 10)).toBe("a".repeat(9));
    expect(fitAuditText(text, 11)).toBe(`${"a".repeat(9)}\u{1F600}`);
    expect(fitAuditText(text, 100)).toBe(text);
  });

  it("replaces NUL and lone surrogates, which Postgres does not store", () => {
    expect(fitAuditText("a\0b", 10)).toBe("a\uFFFDb");
    expect(fitAuditText("a\uD83Db\uDE00", 10)).toBe("a\uFFFDb\uFFFD");
    expect(fitAuditText("ok \u{1F600}", 10)).toBe("ok \u{1F600}");
  });
});

describe("conformAuditEvent", () => {
  it("returns the same event (and arrays) when everything fits", () => {
    const fitting = event({ tables: ["public.t"] });
    expect(conformAuditEvent(fitting)).toBe(fitting);
    expect(fitAuditNames(fitting.tables, 10)).toBe(fitting.tables);
  });

  it("fits a hostile auth failure (a client-chosen user, database and application name) to the schema", () => {
    const hostile = event({
      actorName: `${"u".repeat(319)}\u{1F600}`,
      connectionName: "d\0".repeat(5000),
      applicationName: "\uDE00".repeat(10_000),
      message: "m".repeat(20_000),
      tables: Array.from({ length: 1500 }, (_, i) => `${"t".repeat(400)}${i}`),
    });
    expect(ZAuditEvent.safeParse(hostile).success).toBe(false);
    const fitted = conformAuditEvent(hostile);
    expect(ZAuditEvent.safeParse(fitted).error).toBeUndefined();
    expect(fitted.actorName).toBe("u".repeat(319));
    expect(fitted.tables).toHaveLength(1000);
    for (const text of [fitted.actorName, fitted.connectionName, fitted.applicationName, fitted.message])
      expect(text).not.toMatch(LONE_SURROGATE);
    expect(fitted.connectionName).not.toContain("\0");
  });
});
