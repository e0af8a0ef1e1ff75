// Turning `events` frames into rows for the audit store. A frame with some invalid events is not dropped
// whole: the valid ones are stored and the invalid ones rejected by id, so one bad event cannot block an
// agent's spool (it would resend the same batch forever).
import {
  conformAuditEvent,
  PROTOCOL_VERSION,
  ZAuditEvent,
  type TAuditEvent,
} from "@portcullis/agent-protocol";
import type { TNewAuditEvent } from "@portcullis/db";

export const MAX_EVENTS_PER_FRAME = 500;

export interface TSalvagedEvents {
  valid: TAuditEvent[];
  /** Ids (as sent) of events that failed validation; events without a usable id cannot be named. */
  rejectedIds: string[];
  unnamed: number;
  reason: string;
}

/** For an `events` frame that failed whole-frame validation: validates event by event. Null if not salvageable. */
export function salvageEventsFrame(raw: string): TSalvagedEvents | null {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof json !== "object" || json === null) return null;
  const frame = json as { v?: unknown; type?: unknown; events?: unknown };
  if (frame.v !== PROTOCOL_VERSION || frame.type !== "events" || !Array.isArray(frame.events)) return null;
  if (frame.events.length === 0 || frame.events.length > MAX_EVENTS_PER_FRAME) return null;
  const out: TSalvagedEvents = { valid: [], rejectedIds: [], unnamed: 0, reason: "" };
  const reasons = new Set<string>();
  for (const candidate of frame.events as unknown[]) {
    const parsed = ZAuditEvent.safeParse(candidate);
    if (parsed.success) {
      out.valid.push(parsed.data);
      continue;
    }
    for (const issue of parsed.error.issues.slice(0, 3))
      reasons.add(`${issue.path.join(".")}: ${issue.message}`);
    const id = (candidate as { id?: unknown } | null)?.id;
    if (typeof id === "string" && id.length > 0 && id.length <= 100) out.rejectedIds.push(id);
    else out.unnamed += 1;
  }
  out.reason = `invalid audit event: ${[...reasons].slice(0, 5).join("; ")}`.slice(0, 1000);
  return out;
}

/**
 * The event types an agent records (apps/agent: statements, its sessions, failed logins). The others
 * (admin_change, approval, grant) are the control plane's own record: an agent may not write them.
 */
export const AGENT_EVENT_TYPES: ReadonlySet<TAuditEvent["type"]> = new Set([
  "statement",
  "session_start",
  "session_end",
  "auth_failure",
]);

/** The connections an agent serves, by id, as the store has them. */
export type TServedConnections = ReadonlyMap<string, { name: string; environment: string }>;

/**
 * Sorts an agent's events into those it may store and those it may not, and makes what they say of where they
 * happened the store's word, not the agent's. A type only the control plane records is refused (rejected by id,
 * so it neither lands in the audit trail nor blocks the agent's spool). An event on a connection the agent
 * serves carries that connection's name and environment. An event about a connection the agent does not
 * serve is kept, as what it is, but detached from it (no connection, environment or session; the claim stays
 * in its message): a connection moved to another agent, or deleted, while the agent's events waited in its
 * spool must not lose them, and an agent must not write into another connection's or session's timeline. An
 * event naming no connection (a failed login) keeps a connection name only if the agent serves one so named.
 */
export function screenAgentEvents(
  events: TAuditEvent[],
  served: TServedConnections,
): { accepted: TAuditEvent[]; rejectedIds: string[]; reason: string } {
  const accepted: TAuditEvent[] = [];
  const rejectedIds: string[] = [];
  const reasons = new Set<string>();
  const servedNames = new Set([...served.values()].map((c) => c.name));
  for (const event of events) {
    if (!AGENT_EVENT_TYPES.has(event.type)) {
      reasons.add(`an agent may not record ${event.type} events`);
      rejectedIds.push(event.id);
      continue;
    }
    const connection = event.connectionId === null ? undefined : served.get(event.connectionId);
    if (connection) {
      accepted.push({ ...event, connectionName: connection.name, environment: connection.environment });
    } else if (event.connectionId !== null) {
      accepted.push(
        detached(
          event,
          `recorded by an agent that does not serve connection ${event.connectionId} (${event.connectionName ?? "?"}, ${event.environment ?? "?"})`,
        ),
      );
    } else if (event.connectionName !== null && !servedNames.has(event.connectionName)) {
      accepted.push(
        detached(event, `for a connection named ${event.connectionName}, which this agent does not serve`),
      );
    } else accepted.push({ ...event, environment: null, sessionId: null });
  }
  return { accepted, rejectedIds, reason: [...reasons].slice(0, 5).join("; ").slice(0, 1000) };
}

function detached(event: TAuditEvent, claim: string): TAuditEvent {
  return {
    ...event,
    connectionId: null,
    connectionName: null,
    environment: null,
    sessionId: null,
    // Fitted to the schema's length with the rest when stored (toNewAuditEvent).
    message: event.message ? `${claim}: ${event.message}` : claim,
  };
}

/**
 * audit_events.row_count is a Postgres integer: a larger count (a bulk COPY) would fail the whole batch's
 * insert, and the agent would resend it forever. It is stored at the maximum, and exactly in `details`.
 */
export const MAX_STORED_ROW_COUNT = 2_147_483_647;

/**
 * Wire event -> audit row. The agent id comes from the authenticated link, never from the event. Text is
 * fitted to the schema and made storable (conformAuditEvent): one event of an agent must not be able to keep
 * its others out of the store.
 * Field by field rather than a spread: a wide object made by spreading has no fast shape, and reading it
 * while hashing and serialising cost more than building it this way (measured over parsed frames).
 */
export function toNewAuditEvent(wire: TAuditEvent, agentId: string): TNewAuditEvent {
  const event = conformAuditEvent(wire);
  return {
    id: event.id,
    occurredAt: new Date(event.occurredAt),
    type: event.type,
    actorId: event.actorId,
    actorName: event.actorName,
    actorKind: event.actorKind,
    connectionId: event.connectionId,
    connectionName: event.connectionName,
    environment: event.environment,
    agentId,
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
    rowCount: event.rowCount === null ? null : Math.min(event.rowCount, MAX_STORED_ROW_COUNT),
    durationMs: event.durationMs,
    error: event.error,
    details:
      event.rowCount !== null && event.rowCount > MAX_STORED_ROW_COUNT ? { rowCount: event.rowCount } : null,
  };
}
