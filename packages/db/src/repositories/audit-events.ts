import { randomUUID } from "node:crypto";
import { chainBody, chainHash, chainHashOfBody, GENESIS_HASH, type TChainedFields } from "../audit-chain.ts";
import { poolOf, type TDb } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";

// Arbitrary constant: one writer extends the chain at a time, across every control-plane replica.
const AUDIT_CHAIN_LOCK_KEY = 72_011_974;

export type TNewAuditEvent = TChainedFields;

/**
 * An event the control plane records itself (admin changes, approvals, grants): who did it, where, what it
 * decided and why; the statement-level fields stay empty unless given.
 */
export function controlPlaneEvent(e: {
  type: "admin_change" | "approval" | "grant" | "auth_failure";
  actor: { id: string | null; name: string; kind: string };
  decision: string;
  message: string;
  connection?: { id: string; name: string; environment: string } | null;
  /** For changes that concern a whole environment rather than one connection. */
  environment?: string | null;
  agentId?: string | null;
  sessionId?: string | null;
  applicationName?: string | null;
  statement?: string | null;
  statementClass?: string | null;
  ruleId?: string | null;
  ruleName?: string | null;
  tables?: string[];
  details?: unknown;
}): TNewAuditEvent {
  return {
    id: randomUUID(),
    occurredAt: new Date(),
    type: e.type,
    actorId: e.actor.id,
    actorName: e.actor.name,
    actorKind: e.actor.kind,
    connectionId: e.connection?.id ?? null,
    connectionName: e.connection?.name ?? null,
    environment: e.connection?.environment ?? e.environment ?? null,
    agentId: e.agentId ?? null,
    sessionId: e.sessionId ?? null,
    clientAddr: null,
    applicationName: e.applicationName === undefined ? "dashboard" : e.applicationName,
    statement: e.statement ?? null,
    fingerprint: null,
    statementClass: e.statementClass ?? null,
    decision: e.decision,
    ruleId: e.ruleId ?? null,
    ruleName: e.ruleName ?? null,
    message: e.message,
    tables: e.tables ?? [],
    columns: [],
    maskedColumns: [],
    rowCount: null,
    durationMs: null,
    error: null,
    // Stored as JSON: Dates become strings now, so the hash covers what is read back.
    details: e.details === undefined ? null : (JSON.parse(JSON.stringify(e.details)) as unknown),
  };
}

export interface TAppendResult {
  inserted: string[];
  duplicates: string[];
}

// One INSERT for a whole batch, with the rows as one JSON array parameter that Postgres expands in C
// (json_to_recordset, which reads the text once: the jsonb variant first builds a jsonb value of the whole
// batch and cost the store 5-10% more per event; WITH ORDINALITY ... ORDER BY keeps seq in chain order). Prisma's createMany compiled
// every row and managed ~1,100 events/s here; 29 text-array parameters cost the control plane more CPU
// escaping array elements (and Postgres more unpacking them) than the hash chain itself.
// The record's keys are the hashed body's (chainBody: camelCase), so each row's JSON is the body its hash
// was computed over, with the two links in front: no second serialisation of the event.
const INSERT_CHAINED = `
INSERT INTO audit_events (id, occurred_at, type, actor_id, actor_name, actor_kind, connection_id, connection_name,
  environment, agent_id, session_id, client_addr, application_name, statement, fingerprint, statement_class, decision,
  rule_id, rule_name, message, tables, columns, masked_columns, row_count, duration_ms, error, details, prev_hash, hash)
SELECT id, "occurredAt", type, "actorId", "actorName", "actorKind", "connectionId", "connectionName", environment,
  "agentId", "sessionId", "clientAddr", "applicationName", statement, fingerprint, "statementClass", decision,
  "ruleId", "ruleName", message, coalesce(tables, '{}'), coalesce(columns, '{}'), coalesce("maskedColumns", '{}'),
  "rowCount", "durationMs", error, details, "prevHash", hash
FROM ROWS FROM (json_to_recordset($1::json) AS (id uuid, "occurredAt" timestamptz, type text, "actorId" uuid,
  "actorName" text, "actorKind" text, "connectionId" uuid, "connectionName" text, environment text, "agentId" uuid,
  "sessionId" uuid, "clientAddr" text, "applicationName" text, statement text, fingerprint text,
  "statementClass" text, decision text, "ruleId" text, "ruleName" text, message text, tables text[], columns text[],
  "maskedColumns" text[], "rowCount" int, "durationMs" float8, error text, details jsonb, "prevHash" text,
  hash text)) WITH ORDINALITY AS t
ORDER BY t.ordinality`;

/**
 * Links new events after `lastHash`, skipping those already stored (`stored`) or repeated in the batch.
 * `rowsJson` is INSERT_CHAINED's parameter, empty when every event was a duplicate.
 */
function chainEvents(
  events: TNewAuditEvent[],
  stored: Iterable<string>,
  lastHash: string | null | undefined,
): { inserted: string[]; duplicates: string[]; rowsJson: string | null } {
  const seen = new Set(stored);
  let prevHash = lastHash ?? GENESIS_HASH;
  const inserted: string[] = [];
  const duplicates: string[] = [];
  const rows: string[] = [];
  for (const event of events) {
    if (seen.has(event.id)) {
      duplicates.push(event.id);
      continue;
    }
    seen.add(event.id);
    const body = chainBody(event);
    const hash = chainHashOfBody(prevHash, body);
    // A stored hash is whatever the table holds: quoted as JSON, not trusted to be hex.
    rows.push(`{"prevHash":${JSON.stringify(prevHash)},"hash":"${hash}",${body.slice(1)}`);
    inserted.push(event.id);
    prevHash = hash;
  }
  return { inserted, duplicates, rowsJson: rows.length > 0 ? `[${rows.join(",")}]` : null };
}

// Where the chain ends and which of the batch's ids are already stored, in one round trip.
const CHAIN_STATE = `
SELECT (SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1) AS last_hash,
  ARRAY(SELECT id::text FROM audit_events WHERE id = ANY($1::uuid[])) AS stored`;

/**
 * Appends events to the hash chain. Events whose id is already stored are skipped (redelivery after a lost
 * ack is normal), so the caller can acknowledge every id it was given.
 *
 * This is the agents' ingestion path, run once per batch of statements: it talks to the client's pg pool
 * directly, in four round trips (the insert as a prepared statement). Prisma's interactive transaction
 * spent about 6 ms of CPU per batch here, more than hashing and storing a hundred events.
 */
export async function appendAuditEvents(db: TDb, events: TNewAuditEvent[]): Promise<TAppendResult> {
  if (events.length === 0) return { inserted: [], duplicates: [] };
  const pool = poolOf(db);
  if (!pool) return db.$transaction((tx) => appendAuditEventsIn(tx, events));
  const client = await pool.connect();
  try {
    // One writer extends the chain at a time; the lock is the same one appendAuditEventsIn takes.
    await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY})`);
    // Not a named (prepared) statement: its cached generic plan would be the one made while the table was
    // tiny (a sequential scan and a sort), kept until an ANALYZE invalidates it, which a busy store may not
    // run for a long time. Planned afresh, it always takes the indexes (0.1 ms instead of 150 ms at 500,000
    // events, growing with the table).
    const state = await client.query<{ last_hash: string | null; stored: string[] }>(CHAIN_STATE, [
      events.map((e) => e.id),
    ]);
    const { inserted, duplicates, rowsJson } = chainEvents(
      events,
      state.rows[0]?.stored ?? [],
      state.rows[0]?.last_hash,
    );
    if (rowsJson !== null)
      await client.query({ name: "portcullis-audit-insert", text: INSERT_CHAINED, values: [rowsJson] });
    await client.query("COMMIT");
    return { inserted, duplicates };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** SQLSTATE class 22 (data exception): Postgres refused a value (text it cannot store, out of range, ...). */
function isDataException(error: unknown): boolean {
  const e = error as { code?: unknown; meta?: { code?: unknown } } | null;
  const code = typeof e?.code === "string" && /^\d/.test(e.code) ? e.code : e?.meta?.code;
  return typeof code === "string" && code.startsWith("22");
}

/**
 * appendAuditEvents for events from outside the control plane (an agent's batch). When Postgres refuses a
 * value in the batch, the whole insert fails: the events are then stored one at a time and those it refuses
 * are returned in `refused`, so one event nobody can store does not keep the others out (the agent would
 * resend the same batch forever). Any other failure (the store being down) is thrown as before.
 */
export async function appendAuditEventsOrRefuse(
  db: TDb,
  events: TNewAuditEvent[],
): Promise<TAppendResult & { refused: string[] }> {
  try {
    return { ...(await appendAuditEvents(db, events)), refused: [] };
  } catch (error) {
    if (!isDataException(error)) throw error;
  }
  const result: TAppendResult & { refused: string[] } = { inserted: [], duplicates: [], refused: [] };
  for (const event of events) {
    try {
      const one = await appendAuditEvents(db, [event]);
      result.inserted.push(...one.inserted);
      result.duplicates.push(...one.duplicates);
    } catch (error) {
      if (!isDataException(error)) throw error;
      result.refused.push(event.id);
    }
  }
  return result;
}

/** appendAuditEvents inside the caller's transaction: a change and its audit record commit together. */
export async function appendAuditEventsIn(
  tx: Prisma.TransactionClient,
  events: TNewAuditEvent[],
): Promise<TAppendResult> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY}::bigint)`;
  const [state] = await tx.$queryRawUnsafe<{ last_hash: string | null; stored: string[] }[]>(
    CHAIN_STATE,
    events.map((e) => e.id),
  );
  const { inserted, duplicates, rowsJson } = chainEvents(events, state?.stored ?? [], state?.last_hash);
  if (rowsJson !== null) await tx.$executeRawUnsafe(INSERT_CHAINED, rowsJson);
  return { inserted, duplicates };
}

export interface TAuditEventFilter {
  text?: string;
  /** statement, session_start, admin_change, ... */
  type?: string;
  /** Only events of these connections (an API token's scope); empty or absent means no restriction. */
  connectionIds?: string[];
  actorName?: string;
  actorKind?: string;
  connectionId?: string;
  connectionName?: string;
  environment?: string;
  decision?: string;
  table?: string;
  /** A column the statement referenced ("customers.email" as resolved, or a bare name). */
  column?: string;
  sessionId?: string;
  from?: Date;
  to?: Date;
}

export const auditEventSelect = {
  id: true,
  seq: true,
  occurredAt: true,
  type: true,
  actorId: true,
  actorName: true,
  actorKind: true,
  connectionId: true,
  connectionName: true,
  environment: true,
  agentId: true,
  sessionId: true,
  clientAddr: true,
  applicationName: true,
  statement: true,
  fingerprint: true,
  statementClass: true,
  decision: true,
  ruleId: true,
  ruleName: true,
  message: true,
  tables: true,
  columns: true,
  maskedColumns: true,
  rowCount: true,
  durationMs: true,
  error: true,
  details: true,
  hash: true,
} satisfies Prisma.AuditEventSelect;

export type TAuditEventRow = Prisma.AuditEventGetPayload<{ select: typeof auditEventSelect }>;

/** Opaque cursor: position after which the next page starts, in (occurredAt desc, seq desc) order. */
export function encodeAuditCursor(row: { occurredAt: Date; seq: bigint }): string {
  return Buffer.from(`${row.occurredAt.toISOString()}|${row.seq.toString()}`).toString("base64url");
}

/** audit_events.seq is a Postgres bigint. */
const MAX_SEQ = 9_223_372_036_854_775_807n;

/**
 * Null for anything encodeAuditCursor cannot have made, including values Postgres would refuse (a seq beyond
 * bigint, a time outside toISOString's four-digit years): a bad cursor is the client's mistake, not a query
 * that fails.
 */
export function decodeAuditCursor(cursor: string): { occurredAt: Date; seq: bigint } | null {
  const [time, seq, ...rest] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  if (!time || !seq || rest.length > 0 || !/^\d{1,19}$/.test(seq) || BigInt(seq) > MAX_SEQ) return null;
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(time)) return null;
  const occurredAt = new Date(time);
  return Number.isNaN(occurredAt.getTime()) ? null : { occurredAt, seq: BigInt(seq) };
}

export async function listAuditEvents(
  db: TDb,
  filter: TAuditEventFilter,
  page: { limit: number; cursor?: { occurredAt: Date; seq: bigint } },
): Promise<{ items: TAuditEventRow[]; nextCursor: string | null }> {
  const and: Prisma.AuditEventWhereInput[] = [];
  if (filter.text) {
    const contains = { contains: filter.text, mode: "insensitive" as const };
    and.push({
      OR: [
        { statement: contains },
        { actorName: contains },
        { connectionName: contains },
        { message: contains },
      ],
    });
  }
  if (filter.type) and.push({ type: filter.type });
  if (filter.connectionIds?.length) and.push({ connectionId: { in: filter.connectionIds } });
  if (filter.actorName) and.push({ actorName: filter.actorName });
  if (filter.actorKind) and.push({ actorKind: filter.actorKind });
  if (filter.connectionId) and.push({ connectionId: filter.connectionId });
  if (filter.connectionName) and.push({ connectionName: filter.connectionName });
  if (filter.environment) and.push({ environment: filter.environment });
  if (filter.decision) and.push({ decision: filter.decision });
  if (filter.table) and.push({ tables: { has: filter.table } });
  if (filter.column) and.push({ columns: { has: filter.column } });
  if (filter.sessionId) and.push({ sessionId: filter.sessionId });
  if (filter.from) and.push({ occurredAt: { gte: filter.from } });
  if (filter.to) and.push({ occurredAt: { lt: filter.to } });
  if (page.cursor) {
    const { occurredAt, seq } = page.cursor;
    and.push({ OR: [{ occurredAt: { lt: occurredAt } }, { occurredAt, seq: { lt: seq } }] });
  }
  const rows = await db.auditEvent.findMany({
    where: { AND: and },
    orderBy: [{ occurredAt: "desc" }, { seq: "desc" }],
    take: page.limit + 1,
    select: auditEventSelect,
  });
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > page.limit && last ? encodeAuditCursor(last) : null };
}

export interface TChainVerification {
  ok: boolean;
  checked: number;
  firstBroken: { seq: string; id: string; reason: string } | null;
  /** The newest event checked: keep it outside the store and pass it back as an anchor later. */
  head: TChainAnchor | null;
}

/** An event's position and hash, as an earlier verification reported the head. */
export interface TChainAnchor {
  seq: string;
  hash: string;
}

/**
 * Recomputes the chain in seq order, in pages, and reports the first link that does not hold. The chain alone
 * cannot tell that its newest events were cut off (or that it was rewritten and re-hashed) by someone who can
 * write the store; `anchors` (heads reported earlier and kept elsewhere) can: each must still be in the chain
 * with the hash it had.
 */
export async function verifyAuditChain(
  db: TDb,
  options: { pageSize?: number; anchors?: readonly TChainAnchor[] } = {},
): Promise<TChainVerification> {
  const pageSize = options.pageSize ?? 5000;
  const anchors = new Map((options.anchors ?? []).map((a) => [a.seq, a.hash]));
  let prevHash = GENESIS_HASH;
  let afterSeq = -1n;
  let checked = 0;
  let head: TChainAnchor | null = null;
  for (;;) {
    const rows = await db.auditEvent.findMany({
      where: { seq: { gt: afterSeq } },
      orderBy: { seq: "asc" },
      take: pageSize,
    });
    if (rows.length === 0) break;
    for (const row of rows) {
      const broken = (reason: string): TChainVerification => ({
        ok: false,
        checked,
        firstBroken: { seq: row.seq.toString(), id: row.id, reason },
        head,
      });
      if (row.prevHash !== prevHash)
        return broken(
          "prev_hash does not match the previous event's hash (an event was removed or reordered)",
        );
      if (chainHash(prevHash, row) !== row.hash)
        return broken("content does not match its hash (the event was modified)");
      const anchored = anchors.get(row.seq.toString());
      if (anchored !== undefined) {
        if (anchored !== row.hash)
          return broken("its hash is not the one the anchor recorded (the chain was rewritten since)");
        anchors.delete(row.seq.toString());
      }
      prevHash = row.hash;
      afterSeq = row.seq;
      checked += 1;
      head = { seq: row.seq.toString(), hash: row.hash };
    }
  }
  // An anchored event the chain no longer holds: the events from it on were cut off (or it was removed and
  // the chain re-hashed around it).
  const missing = [...anchors.keys()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))[0];
  if (missing !== undefined)
    return {
      ok: false,
      checked,
      firstBroken: {
        seq: missing,
        id: "",
        reason:
          "the anchored event is no longer in the chain (events were cut off or removed since the anchor)",
      },
      head,
    };
  return { ok: true, checked, firstBroken: null, head };
}
