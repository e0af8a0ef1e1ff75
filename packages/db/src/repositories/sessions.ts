// Live client sessions and ending one. A session is live while its agent is online, it began after the
// agent's current process started, and the timeline has its session_start but no session_end. Ending one is
// recorded here and reaches every agent in its next snapshot (within a second, through whichever replica it
// is linked to); the agent closes the session and its session_end says why.
import type { TDb } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { appendAuditEventsIn, controlPlaneEvent } from "./audit-events.ts";
import { NotFoundError } from "./identities.ts";
import { bumpPolicyRevision } from "./policy.ts";
import type { TAdminActor } from "./policy-rules.ts";

/** An agent that has not heartbeated for this long is offline, and so are its sessions. */
const AGENT_ONLINE_WITHIN_S = 45;
/** How long an ended session stays in snapshots: longer than any agent takes to pull one. */
const ENDED_SESSION_TTL = "1 day";
/** Sessions older than this are not looked for: agents' idle timeouts end sessions well before. */
const LIVE_SESSION_HORIZON = "30 days";

export interface TLiveSessionRow {
  sessionId: string;
  startedAt: Date;
  actorName: string;
  actorKind: string;
  connectionId: string | null;
  connectionName: string | null;
  environment: string | null;
  agentId: string;
  clientAddr: string | null;
  applicationName: string | null;
  statements: number;
  lastActivityAt: Date;
}

/** Live sessions, newest first; only those on `connectionIds` when given (a scoped caller). */
export async function listLiveSessions(
  db: TDb,
  filter: { connectionIds?: string[]; sessionId?: string } = {},
): Promise<TLiveSessionRow[]> {
  const rows = await db.$queryRaw<
    {
      session_id: string;
      occurred_at: Date;
      actor_name: string;
      actor_kind: string;
      connection_id: string | null;
      connection_name: string | null;
      environment: string | null;
      agent_id: string;
      client_addr: string | null;
      application_name: string | null;
      statements: number;
      last_activity_at: Date;
    }[]
  >`
    SELECT s.session_id, s.occurred_at, s.actor_name, s.actor_kind, s.connection_id, s.connection_name,
           s.environment, s.agent_id, s.client_addr, s.application_name,
           activity.statements, activity.last_activity_at
    FROM audit_events s
    JOIN agents a ON a.id = s.agent_id
      AND a.last_heartbeat_at > now() - make_interval(secs => ${AGENT_ONLINE_WITHIN_S})
      AND (a.started_at IS NULL OR s.occurred_at >= a.started_at)
    CROSS JOIN LATERAL (
      SELECT (count(*) FILTER (WHERE e.type = 'statement'))::int AS statements,
             max(e.occurred_at) AS last_activity_at,
             bool_or(e.type = 'session_end') AS ended
      FROM audit_events e WHERE e.session_id = s.session_id
    ) activity
    WHERE s.type = 'session_start'
      AND s.occurred_at > now() - ${LIVE_SESSION_HORIZON}::interval
      AND NOT activity.ended
      AND (${filter.sessionId ?? null}::uuid IS NULL OR s.session_id = ${filter.sessionId ?? null}::uuid)
      AND (${filter.connectionIds ?? null}::uuid[] IS NULL OR s.connection_id = ANY(${filter.connectionIds ?? null}::uuid[]))
    ORDER BY s.occurred_at DESC
    LIMIT 1000`;
  return rows.map((r) => ({
    sessionId: r.session_id,
    startedAt: r.occurred_at,
    actorName: r.actor_name,
    actorKind: r.actor_kind,
    connectionId: r.connection_id,
    connectionName: r.connection_name,
    environment: r.environment,
    agentId: r.agent_id,
    clientAddr: r.client_addr,
    applicationName: r.application_name,
    statements: r.statements,
    lastActivityAt: r.last_activity_at,
  }));
}

/** Sessions on this agent that an admin ended recently, for its snapshot. */
export async function recentlyEndedSessions(db: TDb, agentId: string): Promise<string[]> {
  const rows = await db.$queryRaw<{ session_id: string }[]>`
    SELECT session_id FROM session_terminations
    WHERE agent_id = ${agentId}::uuid AND created_at > now() - ${ENDED_SESSION_TTL}::interval`;
  return rows.map((r) => r.session_id);
}

/**
 * Ends a live session: its agent closes it within a second or so. `mayEnd` sees the session first and
 * throws to refuse (a caller scoped to other connections). Ending one already being ended changes nothing.
 */
export async function endSession(
  db: TDb,
  actor: TAdminActor,
  input: { sessionId: string; reason: string },
  mayEnd: (session: TLiveSessionRow) => void = () => undefined,
): Promise<TLiveSessionRow> {
  const session = (await listLiveSessions(db, { sessionId: input.sessionId }))[0];
  if (!session) throw new NotFoundError(`live session ${input.sessionId}`);
  mayEnd(session);
  await db.$transaction(async (tx: Prisma.TransactionClient) => {
    const inserted = await tx.sessionTermination.createMany({
      data: [
        {
          sessionId: session.sessionId,
          agentId: session.agentId,
          requestedBy: actor.name,
          reason: input.reason,
        },
      ],
      skipDuplicates: true,
    });
    if (inserted.count === 0) return;
    const revision = await bumpPolicyRevision(tx);
    const client = [session.applicationName, session.clientAddr].filter(Boolean).join(" from ");
    await appendAuditEventsIn(tx, [
      controlPlaneEvent({
        type: "admin_change",
        actor,
        decision: "allowed",
        message: `ended ${session.actorName}'s session on ${session.connectionName ?? "?"}${
          client ? ` (${client})` : ""
        }${input.reason ? `: ${input.reason}` : ""}`,
        connection:
          session.connectionId && session.connectionName
            ? {
                id: session.connectionId,
                name: session.connectionName,
                environment: session.environment ?? "",
              }
            : null,
        agentId: session.agentId,
        sessionId: session.sessionId,
        details: { session: session.sessionId, reason: input.reason, revision },
      }),
    ]);
  });
  return session;
}
