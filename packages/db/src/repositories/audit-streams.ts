// Audit streams: the timeline sent on to SIEM collectors. The store keeps, per stream, the seq of the last event
// its receiver accepted; a forwarder on any control-plane replica leases a due stream, reads the events after
// that cursor and moves it when the receiver said yes. Secrets are stored encrypted and never read back out
// except by the forwarder, which decrypts them.
import type { TDb } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { encryptSecret } from "../secrets.ts";
import {
  appendAuditEventsIn,
  auditEventSelect,
  controlPlaneEvent,
  type TAuditEventRow,
} from "./audit-events.ts";
import type { TAdminActor } from "./policy-rules.ts";

export type TAuditStreamFormat = "jsonl" | "ocsf";

/** Past this many waiting events a stream's backlog is shown as "at least". */
export const AUDIT_STREAM_PENDING_CAP = 100_000;

export interface TAuditStreamSummary {
  id: string;
  name: string;
  url: string;
  format: TAuditStreamFormat;
  environments: string[];
  enabled: boolean;
  signed: boolean;
  hasAuthorization: boolean;
  deliveredCount: bigint;
  lastDeliveredAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
  failures: number;
  nextAttemptAt: Date;
  createdAt: Date;
  /** Events after the cursor that this stream will send, counted up to AUDIT_STREAM_PENDING_CAP + 1. */
  pending: number;
}

/**
 * Where a stream sends, for the timeline and the API (auditors read both): a collector URL may carry a key in
 * its query, its user info, or a path segment (Sumo Logic's HTTP sources are /receiver/v1/http/<token>). The
 * origin stays, and path segments that look like words (api, v2, services, collector, event, _doc); others
 * are shown as "…".
 */
export function redactedStreamUrl(url: string): string {
  const parsed = new URL(url);
  const path = parsed.pathname
    .split("/")
    .map((segment) => (looksLikeWord(segment) ? segment : "…"))
    .join("/");
  return `${parsed.origin}${path}`;
}

function looksLikeWord(segment: string): boolean {
  if (segment.length > 24 || !/^[A-Za-z0-9._-]*$/.test(segment)) return false;
  // Long mixes of letters and digits read as keys; short ones (v1, api2, ndjson) as words.
  return segment.length <= 12 || !(/[0-9]/.test(segment) && /[A-Za-z]/.test(segment));
}

/** An admin's change to a stream, recorded in the same transaction: an exfiltration path leaves no gap. */
async function recordStreamChange(
  tx: Prisma.TransactionClient,
  actor: TAdminActor,
  message: string,
  details?: unknown,
): Promise<void> {
  await appendAuditEventsIn(tx, [
    controlPlaneEvent({ type: "admin_change", actor, decision: "allowed", message, details }),
  ]);
}

export async function createAuditStream(
  db: TDb,
  secretKey: Buffer,
  actor: TAdminActor,
  input: {
    name: string;
    url: string;
    format: TAuditStreamFormat;
    environments: string[];
    signingSecret: string | null;
    authorization: string | null;
    /** "now": only events recorded from here on; "beginning": the whole timeline first. */
    startFrom: "now" | "beginning";
  },
): Promise<{ id: string; name: string } | null> {
  return db.$transaction(async (tx) => {
    const cursorSeq =
      input.startFrom === "beginning"
        ? 0n
        : ((await tx.auditEvent.aggregate({ _max: { seq: true } }))._max.seq ?? 0n);
    // A name already taken returns nothing (null), also when two admins race for it.
    const [created] = await tx.auditStream.createManyAndReturn({
      skipDuplicates: true,
      data: {
        name: input.name,
        url: input.url,
        format: input.format,
        environments: input.environments,
        signingSecret: input.signingSecret ? encryptSecret(input.signingSecret, secretKey) : null,
        authorization: input.authorization ? encryptSecret(input.authorization, secretKey) : null,
        cursorSeq,
      },
      select: { id: true, name: true },
    });
    if (!created) return null;
    // Due at once by the store's clock (Prisma fills the column's default from this server's).
    await tx.$executeRaw`UPDATE audit_streams SET next_attempt_at = now() WHERE id = ${created.id}::uuid`;
    await recordStreamChange(
      tx,
      actor,
      `created audit stream "${created.name}" to ${redactedStreamUrl(input.url)}`,
      {
        format: input.format,
        environments: input.environments,
        startFrom: input.startFrom,
        signed: input.signingSecret !== null,
      },
    );
    return created;
  });
}

/** Every stream, by name; or the one with `id` (none if it does not exist). */
export async function listAuditStreams(db: TDb, id?: string): Promise<TAuditStreamSummary[]> {
  const rows = await db.auditStream.findMany({
    where: id === undefined ? {} : { id },
    orderBy: { name: "asc" },
    select: {
      id: true,
      name: true,
      url: true,
      format: true,
      environments: true,
      enabled: true,
      signingSecret: true,
      authorization: true,
      cursorSeq: true,
      deliveredCount: true,
      lastDeliveredAt: true,
      lastError: true,
      lastErrorAt: true,
      failures: true,
      nextAttemptAt: true,
      createdAt: true,
    },
  });
  return Promise.all(
    rows.map(async ({ signingSecret, authorization, cursorSeq, ...row }) => ({
      ...row,
      format: row.format as TAuditStreamFormat,
      signed: signingSecret !== null,
      hasAuthorization: authorization !== null,
      pending: await countPending(db, cursorSeq, row.environments),
    })),
  );
}

async function countPending(db: TDb, afterSeq: bigint, environments: string[]): Promise<number> {
  // Bounded: a stream that starts from the beginning of a large store would otherwise count it all each time.
  const [row] = await db.$queryRaw<{ pending: number }[]>`
    SELECT count(*)::int AS pending FROM (
      SELECT 1 FROM audit_events
      WHERE seq > ${afterSeq}
        AND (cardinality(${environments}::text[]) = 0 OR environment = ANY(${environments}::text[]))
      LIMIT ${AUDIT_STREAM_PENDING_CAP + 1}
    ) AS waiting`;
  return row?.pending ?? 0;
}

/** Pauses or resumes a stream; false if there is no such stream. */
export async function setAuditStreamEnabled(
  db: TDb,
  actor: TAdminActor,
  id: string,
  enabled: boolean,
): Promise<boolean> {
  return db.$transaction(async (tx) => {
    // Resuming retries at once (the store's clock decides what is due), also a stream whose lease a stopped
    // replica still holds.
    const rows = enabled
      ? await tx.$queryRaw<{ name: string }[]>`
          UPDATE audit_streams
          SET enabled = true, failures = 0, next_attempt_at = now(), lease_holder = NULL, lease_until = NULL
          WHERE id = ${id}::uuid RETURNING name`
      : await tx.auditStream.updateManyAndReturn({
          where: { id },
          data: { enabled },
          select: { name: true },
        });
    if (!rows[0]) return false;
    await recordStreamChange(tx, actor, `${enabled ? "enabled" : "paused"} audit stream "${rows[0].name}"`);
    return true;
  });
}

export async function deleteAuditStream(db: TDb, actor: TAdminActor, id: string): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<{ name: string }[]>`
      DELETE FROM audit_streams WHERE id = ${id}::uuid RETURNING name`;
    if (!rows[0]) return false;
    await recordStreamChange(tx, actor, `deleted audit stream "${rows[0].name}"`);
    return true;
  });
}

export interface TLeasedAuditStream {
  id: string;
  name: string;
  url: string;
  format: TAuditStreamFormat;
  environments: string[];
  /** Encrypted as stored (decryptSecret with the control plane's key). */
  signingSecret: string | null;
  authorization: string | null;
  cursorSeq: bigint;
  failures: number;
}

/**
 * Takes the lease on every enabled stream that is due and not leased (by another replica, or by this one for
 * a delivery still under way). The lease outlives
 * one delivery attempt (the caller's HTTP timeout is well below it); a replica that dies holding it is
 * replaced once it runs out.
 */
export async function leaseDueAuditStreams(
  db: TDb,
  holder: string,
  leaseMs: number,
): Promise<TLeasedAuditStream[]> {
  const rows = await db.$queryRaw<
    {
      id: string;
      name: string;
      url: string;
      format: string;
      environments: string[];
      signing_secret: string | null;
      authorization: string | null;
      cursor_seq: bigint;
      failures: number;
    }[]
  >`
    UPDATE audit_streams
    SET lease_holder = ${holder}, lease_until = now() + make_interval(secs => ${leaseMs / 1000})
    WHERE enabled AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
      -- A stream that has caught up is left alone: no row written every poll while nothing happens.
      AND cursor_seq < (SELECT coalesce(max(seq), 0) FROM audit_events)
    RETURNING id::text, name, url, format, environments, signing_secret, "authorization", cursor_seq, failures`;
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    url: row.url,
    format: row.format as TAuditStreamFormat,
    environments: row.environments,
    signingSecret: row.signing_secret,
    authorization: row.authorization,
    cursorSeq: BigInt(row.cursor_seq),
    failures: row.failures,
  }));
}

/**
 * The next events for a stream, in seq order. Every writer extends the chain under one lock, so seq order is
 * commit order and nothing can later appear at or below a seq already seen. `scannedTo` is how far the
 * stream's cursor may move even when the events were filtered out by environment.
 */
export async function readAuditEventsForStream(
  db: TDb,
  input: { afterSeq: bigint; environments: string[]; limit: number },
): Promise<{ events: TAuditEventRow[]; scannedTo: bigint }> {
  const highWater = (await db.auditEvent.aggregate({ _max: { seq: true } }))._max.seq ?? 0n;
  if (highWater <= input.afterSeq) return { events: [], scannedTo: input.afterSeq };
  const events = await db.auditEvent.findMany({
    where: {
      seq: { gt: input.afterSeq, lte: highWater },
      ...(input.environments.length > 0 ? { environment: { in: input.environments } } : {}),
    },
    orderBy: { seq: "asc" },
    take: input.limit,
    select: auditEventSelect,
  });
  const full = events.length === input.limit;
  return { events, scannedTo: full ? events[events.length - 1]!.seq : highWater };
}

/**
 * Moves the cursor after the receiver accepted events up to `toSeq` (or nothing matched up to it), and gives
 * the lease back. Only the lease holder, from the cursor it read, can move it: false when that no longer holds.
 */
export async function recordAuditStreamProgress(
  db: TDb,
  input: { id: string; holder: string; fromSeq: bigint; toSeq: bigint; delivered: number },
): Promise<boolean> {
  // Times from the store's clock, which leasing compares them with: a replica's clock ahead of it would
  // otherwise hold the stream back by the difference.
  const updated = await db.$executeRaw`
    UPDATE audit_streams
    SET cursor_seq = ${input.toSeq},
        delivered_count = delivered_count + ${input.delivered},
        last_delivered_at = CASE WHEN ${input.delivered} > 0 THEN now() ELSE last_delivered_at END,
        failures = 0, next_attempt_at = now(), lease_holder = NULL, lease_until = NULL
    WHERE id = ${input.id}::uuid AND lease_holder = ${input.holder} AND cursor_seq = ${input.fromSeq}`;
  return updated === 1;
}

/** Keeps the cursor, notes why, and waits `retryAfterMs` (by the store's clock) before the next attempt. */
export async function recordAuditStreamFailure(
  db: TDb,
  input: { id: string; holder: string; fromSeq: bigint; error: string; retryAfterMs: number },
): Promise<void> {
  await db.$executeRaw`
    UPDATE audit_streams
    SET last_error = ${input.error.slice(0, 1000)}, last_error_at = now(), failures = failures + 1,
        next_attempt_at = now() + make_interval(secs => ${input.retryAfterMs / 1000}),
        lease_holder = NULL, lease_until = NULL
    WHERE id = ${input.id}::uuid AND lease_holder = ${input.holder} AND cursor_seq = ${input.fromSeq}`;
}

/** Gives up the leases a stopping replica holds, so another can carry on at once. */
export async function releaseAuditStreamLeases(db: TDb, holder: string): Promise<void> {
  await db.auditStream.updateMany({
    where: { leaseHolder: holder },
    data: { leaseHolder: null, leaseUntil: null },
  });
}
