// Activity over a time window, from the audit store: statements per time bucket and decision (and approval
// requests, which record the statements held), who ran the most and what they touched. Aggregates in SQL over the occurred_at index; the caller bounds the window.
import type { TDb } from "../client.ts";

export interface TAuditActivityWindow {
  from: Date;
  to: Date;
  bucketSeconds: number;
  /** Only events of these connections (a token scoped to them); empty for all. */
  connectionIds: string[];
  limit: number;
}

export interface TAuditActivity {
  buckets: { start: Date; decision: string; count: number }[];
  actors: { name: string; kind: string; statements: number; refused: number; masked: number }[];
  tables: { name: string; statements: number; writes: number; masked: number }[];
  totals: {
    statements: number;
    refused: number;
    masked: number;
    held: number;
    identities: number;
    sessions: number;
  };
}

export async function auditActivity(db: TDb, w: TAuditActivityWindow): Promise<TAuditActivity> {
  const scoped = w.connectionIds.length > 0;
  // Statements, and the approval requests that held some of them, in the window and the caller's connections.
  const where = `(e.type = 'statement' OR (e.type = 'approval' AND e.decision = 'pending_approval'))
      AND e.occurred_at >= $1 AND e.occurred_at < $2
      AND ($3::boolean = false OR e.connection_id = ANY($4::uuid[]))`;
  const statementsOnly = `${where} AND e.type = 'statement'`;
  const params = [w.from, w.to, scoped, w.connectionIds] as const;
  const [buckets, actors, tables, totals] = await Promise.all([
    // Buckets counted from the epoch (the caller aligns the window to them): date_bin needs Postgres 14.
    db.$queryRawUnsafe<{ start: Date; decision: string; count: number }[]>(
      `SELECT to_timestamp(floor(extract(epoch FROM e.occurred_at) / $5) * $5) AS start, e.decision,
         count(*)::int AS count
       FROM audit_events e WHERE ${where}
       GROUP BY 1, 2 ORDER BY 1`,
      ...params,
      w.bucketSeconds,
    ),
    db.$queryRawUnsafe<TAuditActivity["actors"]>(
      `SELECT e.actor_name AS name, e.actor_kind AS kind, count(*)::int AS statements,
         (count(*) FILTER (WHERE e.decision IN ('blocked', 'denied')))::int AS refused,
         (count(*) FILTER (WHERE cardinality(e.masked_columns) > 0))::int AS masked
       FROM audit_events e WHERE ${statementsOnly}
       GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT $5`,
      ...params,
      w.limit,
    ),
    db.$queryRawUnsafe<TAuditActivity["tables"]>(
      `SELECT t.name, count(*)::int AS statements,
         (count(*) FILTER (WHERE e.statement_class = 'write'))::int AS writes,
         (count(*) FILTER (WHERE cardinality(e.masked_columns) > 0))::int AS masked
       FROM audit_events e CROSS JOIN LATERAL unnest(e.tables) AS t(name) WHERE ${statementsOnly}
       GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $5`,
      ...params,
      w.limit,
    ),
    db.$queryRawUnsafe<TAuditActivity["totals"][]>(
      `SELECT (count(*) FILTER (WHERE e.type = 'statement'))::int AS statements,
         (count(*) FILTER (WHERE e.type = 'statement' AND e.decision IN ('blocked', 'denied')))::int AS refused,
         (count(*) FILTER (WHERE e.type = 'statement' AND cardinality(e.masked_columns) > 0))::int AS masked,
         (count(*) FILTER (WHERE e.type = 'approval'))::int AS held,
         (count(DISTINCT e.actor_name) FILTER (WHERE e.type = 'statement'))::int AS identities,
         (count(DISTINCT e.session_id) FILTER (WHERE e.type = 'statement'))::int AS sessions
       FROM audit_events e WHERE ${where}`,
      ...params,
    ),
  ]);
  return {
    buckets,
    actors,
    tables,
    totals: totals[0] ?? { statements: 0, refused: 0, masked: 0, held: 0, identities: 0, sessions: 0 },
  };
}
