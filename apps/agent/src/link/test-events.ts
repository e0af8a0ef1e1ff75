// For tests: an audit event as the agent sends it — a developer's allowed read, unless the test says otherwise.
import { randomUUID } from "node:crypto";
import type { TAuditEvent } from "@portcullis/agent-protocol";

export function wireAuditEvent(statement = "SELECT 1", overrides: Partial<TAuditEvent> = {}): TAuditEvent {
  return {
    id: randomUUID(),
    type: "statement",
    occurredAt: new Date().toISOString(),
    actorId: null,
    actorName: "dev@demo.local",
    actorKind: "human",
    connectionId: null,
    connectionName: "demo",
    environment: "production",
    sessionId: null,
    clientAddr: "127.0.0.1",
    applicationName: "psql",
    statement,
    fingerprint: null,
    statementClass: "read",
    decision: "allowed",
    ruleId: null,
    ruleName: null,
    message: null,
    tables: ["customers"],
    columns: [],
    maskedColumns: [],
    rowCount: 1,
    durationMs: 0.5,
    error: null,
    ...overrides,
  };
}
