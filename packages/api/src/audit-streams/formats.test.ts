import { describe, expect, it } from "vitest";
import type { TAuditEventDto } from "../audit/schemas.ts";
import { streamBody, toOcsfEvent } from "./formats.ts";

function event(overrides: Partial<TAuditEventDto> = {}): TAuditEventDto {
  return {
    id: "0b8f6a2e-4c1d-4e0a-9d1b-1f2e3d4c5b6a",
    seq: "42",
    occurredAt: "2026-12-01T10:00:00.000Z",
    type: "statement",
    actorId: "5f0c3b1a-2d4e-4f60-8a7b-9c0d1e2f3a4b",
    actorName: "dev@demo.local",
    actorKind: "human",
    connectionId: "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d",
    connectionName: "demo",
    environment: "production",
    agentId: null,
    sessionId: "c0ffee00-0000-4000-8000-000000000001",
    clientAddr: "10.0.0.7",
    applicationName: "psql",
    statement: "select email from customers",
    fingerprint: "fp1",
    statementClass: "read",
    decision: "masked",
    ruleId: null,
    ruleName: null,
    message: null,
    tables: ["public.customers"],
    columns: ["customers.email"],
    maskedColumns: ["customers.email"],
    rowCount: 3,
    durationMs: 1.5,
    error: null,
    details: null,
    hash: "ab".repeat(32),
    ...overrides,
  };
}

describe("OCSF mapping", () => {
  it("maps a masked read onto Datastore Activity: Query", () => {
    expect(toOcsfEvent(event())).toMatchObject({
      class_uid: 6005,
      category_uid: 6,
      activity_id: 4,
      type_uid: 600504,
      type_name: "Datastore Activity: Query",
      time: Date.parse("2026-12-01T10:00:00.000Z"),
      severity_id: 1,
      status_id: 1,
      metadata: { version: "1.3.0", uid: event().id, sequence: 42, correlation_uid: event().sessionId },
      actor: {
        user: { name: "dev@demo.local", type_id: 1 },
        session: { uid: event().sessionId },
        app_name: "psql",
      },
      src_endpoint: { ip: "10.0.0.7" },
      database: { name: "demo", uid: event().connectionId, type: "PostgreSQL" },
      table: { name: "public.customers" },
      query_info: { query_string: "select email from customers", uid: "fp1" },
      unmapped: {
        decision: "masked",
        masked_columns: ["customers.email"],
        row_count: 3,
        environment: "production",
      },
    });
  });

  it("marks refusals and failed logins as failures a SOC sees first", () => {
    const blocked = toOcsfEvent(event({ decision: "blocked", statementClass: "ddl", ruleName: "no-drop" }));
    expect(blocked).toMatchObject({
      activity_id: 99,
      activity_name: "Schema Change",
      severity_id: 3,
      status_id: 2,
    });
    expect(blocked.unmapped.rule).toEqual({ id: null, name: "no-drop" });
    const login = toOcsfEvent(
      event({
        type: "auth_failure",
        decision: "error",
        statement: null,
        actorKind: "ai_agent",
        error: "bad token",
      }),
    );
    expect(login).toMatchObject({
      activity_id: 3,
      activity_name: "Connect",
      severity_id: 3,
      status: "Failure",
      status_detail: "bad token",
      actor: { user: { type_id: 99, type: "AI Agent" } },
    });
    expect(login).not.toHaveProperty("query_info");
    expect(toOcsfEvent(event({ decision: "pending_approval" })).status_id).toBe(0);
  });

  it("keeps control-plane events, which have no database, as Other", () => {
    const change = toOcsfEvent(
      event({
        type: "admin_change",
        connectionName: null,
        connectionId: null,
        statement: null,
        message: "created x",
      }),
    );
    expect(change).toMatchObject({ activity_id: 99, activity_name: "Admin Change", message: "created x" });
    expect(change).not.toHaveProperty("database");
  });
});

describe("stream body", () => {
  it("is one JSON document per line, each line ending in a newline", () => {
    const events = [event(), event({ id: "other", seq: "43", statement: "select 'a\nb'" })];
    const jsonl = streamBody(events, "jsonl");
    expect(jsonl.endsWith("\n")).toBe(true);
    expect(
      jsonl
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual(events);
    const ocsf = streamBody(events, "ocsf").split("\n").filter(Boolean);
    expect(ocsf).toHaveLength(2);
    expect((JSON.parse(ocsf[1]!) as { query_info: { query_string: string } }).query_info.query_string).toBe(
      "select 'a\nb'",
    );
  });
});
