// Tamper evidence for the audit store: each row's hash covers the previous row's hash and a canonical
// encoding of the row, so editing, deleting or reordering a stored event breaks every later link.
import { hash } from "node:crypto";

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

/**
 * The canonical JSON of the hashed fields. This is the hottest code of audit ingestion, so it does not go
 * through canonicalJson: the fields are written in sorted key order and serialised natively, which gives
 * the same bytes (JSON.stringify also drops undefined fields and writes Dates as ISO strings); only
 * `details`, the one free-form object, needs canonicalJson's key sorting.
 */
export function chainBody(event: TChainedFields): string {
  const before = JSON.stringify({
    actorId: event.actorId,
    actorKind: event.actorKind,
    actorName: event.actorName,
    agentId: event.agentId,
    applicationName: event.applicationName,
    clientAddr: event.clientAddr,
    columns: event.columns,
    connectionId: event.connectionId,
    connectionName: event.connectionName,
    decision: event.decision,
  });
  const after = JSON.stringify({
    durationMs: event.durationMs,
    environment: event.environment,
    error: event.error,
    fingerprint: event.fingerprint,
    id: event.id,
    maskedColumns: event.maskedColumns,
    message: event.message,
    occurredAt: event.occurredAt.toISOString(),
    rowCount: event.rowCount,
    ruleId: event.ruleId,
    ruleName: event.ruleName,
    sessionId: event.sessionId,
    statement: event.statement,
    statementClass: event.statementClass,
    tables: event.tables,
    type: event.type,
  });
  // `decision` and `type` are always set, so neither half is "{}".
  return `${before.slice(0, -1)},"details":${canonicalJson(event.details ?? null)},${after.slice(1)}`;
}

export function chainHash(prevHash: string, event: TChainedFields): string {
  return chainHashOfBody(prevHash, chainBody(event));
}

/** chainHash for a body already made by chainBody (the store's insert reuses the body as the row's JSON). */
export function chainHashOfBody(prevHash: string, body: string): string {
  // One-shot crypto.hash: a Hash object with three updates cost three times as much per event here.
  return hash("sha256", `${prevHash}\n${body}`, "hex");
}
