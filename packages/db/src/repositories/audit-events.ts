import { randomUUID } from "node:crypto";
import { chainHash, GENESIS_HASH, type TChainedFields } from "../audit-chain.ts";
import type { TDb } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";

// Arbitrary constant: one writer extends the chain at a time, across every control-plane replica.
const AUDIT_CHAIN_LOCK_KEY = 72_011_974;

export type TNewAuditEvent = TChainedFields;

/**
 * An event the control plane records itself (admin changes, approvals, grants): who did it, where, what it
 * decided and why; the statement-level fields stay empty unless given.
 */
export function controlPlaneEvent(e: {
  type: "admin_change" | "approval" | "grant";
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

// One INSERT for a whole batch: each column travels as one text array, unnested in order (WITH ORDINALITY
// ... ORDER BY keeps seq in chain order). Prisma's createMany compiles every row and managed ~1,100
// events/s here; an agent behind a busy database produces more than that.
const INSERT_CHAINED = `
INSERT INTO audit_events (id, occurred_at, type, actor_id, actor_name, actor_kind, connection_id, connection_name,
  environment, agent_id, session_id, client_addr, application_name, statement, fingerprint, statement_class, decision,
  rule_id, rule_name, message, tables, columns, masked_columns, row_count, duration_ms, error, details, prev_hash, hash)
SELECT id::uuid, occurred_at::timestamptz, type, actor_id::uuid, actor_name, actor_kind, connection_id::uuid,
  connection_name, environment, agent_id::uuid, session_id::uuid, client_addr, application_name, statement,
  fingerprint, statement_class, decision, rule_id, rule_name, message,
  ARRAY(SELECT jsonb_array_elements_text(tables::jsonb)), ARRAY(SELECT jsonb_array_elements_text(columns::jsonb)),
  ARRAY(SELECT jsonb_array_elements_text(masked_columns::jsonb)), row_count::int, duration_ms::float8, error,
  details::jsonb, prev_hash, hash
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
  $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
  $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[],
  $27::text[], $28::text[], $29::text[])
  WITH ORDINALITY AS t(id, occurred_at, type, actor_id, actor_name, actor_kind, connection_id, connection_name,
  environment, agent_id, session_id, client_addr, application_name, statement, fingerprint, statement_class, decision,
  rule_id, rule_name, message, tables, columns, masked_columns, row_count, duration_ms, error, details, prev_hash, hash, ord)
ORDER BY ord`;

async function insertChained(
  tx: Prisma.TransactionClient,
  rows: (TNewAuditEvent & { prevHash: string; hash: string })[],
): Promise<void> {
  const text = (v: string | number | null) => (v === null ? null : String(v));
  const column = (pick: (r: (typeof rows)[number]) => string | number | null) =>
    rows.map((r) => text(pick(r)));
  await tx.$executeRawUnsafe(
    INSERT_CHAINED,
    column((r) => r.id),
    column((r) => r.occurredAt.toISOString()),
    column((r) => r.type),
    column((r) => r.actorId),
    column((r) => r.actorName),
    column((r) => r.actorKind),
    column((r) => r.connectionId),
    column((r) => r.connectionName),
    column((r) => r.environment),
    column((r) => r.agentId),
    column((r) => r.sessionId),
    column((r) => r.clientAddr),
    column((r) => r.applicationName),
    column((r) => r.statement),
    column((r) => r.fingerprint),
    column((r) => r.statementClass),
    column((r) => r.decision),
    column((r) => r.ruleId),
    column((r) => r.ruleName),
    column((r) => r.message),
    column((r) => JSON.stringify(r.tables)),
    column((r) => JSON.stringify(r.columns)),
    column((r) => JSON.stringify(r.maskedColumns)),
    column((r) => r.rowCount),
    column((r) => r.durationMs),
    column((r) => r.error),
    column((r) => (r.details === null || r.details === undefined ? null : JSON.stringify(r.details))),
    column((r) => r.prevHash),
    column((r) => r.hash),
  );
}

/**
 * Appends events to the hash chain. Events whose id is already stored are skipped (redelivery after a lost
 * ack is normal), so the caller can acknowledge every id it was given.
 */
export async function appendAuditEvents(db: TDb, events: TNewAuditEvent[]): Promise<TAppendResult> {
  if (events.length === 0) return { inserted: [], duplicates: [] };
  return db.$transaction((tx) => appendAuditEventsIn(tx, events));
}

/** appendAuditEvents inside the caller's transaction: a change and its audit record commit together. */
export async function appendAuditEventsIn(
  tx: Prisma.TransactionClient,
  events: TNewAuditEvent[],
): Promise<TAppendResult> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY}::bigint)`;
  const ids = events.map((e) => e.id);
  const existing = await tx.auditEvent.findMany({ where: { id: { in: ids } }, select: { id: true } });
  const seen = new Set(existing.map((e) => e.id));
  const last = await tx.auditEvent.findFirst({ orderBy: { seq: "desc" }, select: { hash: true } });
  let prevHash = last?.hash ?? GENESIS_HASH;
  const rows: (TNewAuditEvent & { prevHash: string; hash: string })[] = [];
  const duplicates: string[] = [];
  for (const event of events) {
    if (seen.has(event.id)) {
      duplicates.push(event.id);
      continue;
    }
    seen.add(event.id);
    const hash = chainHash(prevHash, event);
    rows.push({ ...event, prevHash, hash });
    prevHash = hash;
  }
  if (rows.length > 0) await insertChained(tx, rows);
  return { inserted: rows.map((r) => r.id), duplicates };
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

export function decodeAuditCursor(cursor: string): { occurredAt: Date; seq: bigint } | null {
  const [time, seq] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  if (!time || !seq || !/^\d+$/.test(seq)) return null;
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
}

/** Recomputes the chain in seq order, in pages, and reports the first link that does not hold. */
export async function verifyAuditChain(db: TDb, pageSize = 5000): Promise<TChainVerification> {
  let prevHash = GENESIS_HASH;
  let afterSeq = -1n;
  let checked = 0;
  for (;;) {
    const rows = await db.auditEvent.findMany({
      where: { seq: { gt: afterSeq } },
      orderBy: { seq: "asc" },
      take: pageSize,
    });
    if (rows.length === 0) return { ok: true, checked, firstBroken: null };
    for (const row of rows) {
      const broken = (reason: string): TChainVerification => ({
        ok: false,
        checked,
        firstBroken: { seq: row.seq.toString(), id: row.id, reason },
      });
      if (row.prevHash !== prevHash)
        return broken(
          "prev_hash does not match the previous event's hash (an event was removed or reordered)",
        );
      if (chainHash(prevHash, row) !== row.hash)
        return broken("content does not match its hash (the event was modified)");
      prevHash = row.hash;
      afterSeq = row.seq;
      checked += 1;
    }
  }
}
