// Tamper evidence for the audit store: each row's hash covers the previous row's hash and a canonical
// encoding of the row, so editing, deleting or reordering a stored event breaks every later link.
import { createHash } from "node:crypto";

export const GENESIS_HASH = "0".repeat(64);

export interface TChainedFields {
  id: string;
  occurredAt: Date;
  type: string;
  actorId: string | null;
  actorName: string;
  actorKind: string;
  connectionId: string | null;
  connectionName: string | null;
  environment: string | null;
  agentId: string | null;
  sessionId: string | null;
  clientAddr: string | null;
  applicationName: string | null;
  statement: string | null;
  fingerprint: string | null;
  statementClass: string | null;
  decision: string;
  ruleId: string | null;
  ruleName: string | null;
  message: string | null;
  tables: string[];
  columns: string[];
  maskedColumns: string[];
  rowCount: number | null;
  durationMs: number | null;
  error: string | null;
  details: unknown;
}

/** JSON with object keys sorted at every level: jsonb does not keep key order, the hash must not depend on it. */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function chainHash(prevHash: string, event: TChainedFields): string {
  const body = canonicalJson({
    id: event.id,
    occurredAt: event.occurredAt.toISOString(),
    type: event.type,
    actorId: event.actorId,
    actorName: event.actorName,
    actorKind: event.actorKind,
    connectionId: event.connectionId,
    connectionName: event.connectionName,
    environment: event.environment,
    agentId: event.agentId,
    sessionId: event.sessionId,
    clientAddr: event.clientAddr,
    applicationName: event.applicationName,
    statement: event.statement,
    fingerprint: event.fingerprint,
    statementClass: event.statementClass,
    decision: event.decision,
    ruleId: event.ruleId,
    ruleName: event.ruleName,
    message: event.message,
    tables: event.tables,
    columns: event.columns,
    maskedColumns: event.maskedColumns,
    rowCount: event.rowCount,
    durationMs: event.durationMs,
    error: event.error,
    details: event.details ?? null,
  });
  return createHash("sha256").update(prevHash).update("\n").update(body).digest("hex");
}
