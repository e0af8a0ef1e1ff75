// Live client sessions and ending one. Each agent lists the sessions open through it in its heartbeats
// (at once when one opens or closes, and every 15 s); they are live while that agent is online. Ending one
// is recorded here and reaches the agent in its next snapshot (within a second, through whichever replica it
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

/** One open session as an agent's heartbeat reports it (agent-protocol's ZLiveSession). */
export interface TLiveSessionReport {
  sessionId: string;
  identityName: string;
  identityKind: string;
  connectionId: string;
  connectionName: string;
  environment: string;
  clientAddr: string;
  applicationName: string;
  startedAt: string;
}

export interface TLiveSessionRow {
  sessionId: string;
  startedAt: Date;
  actorName: string;
  actorKind: string;
  connectionId: string;
  connectionName: string;
  environment: string;
  agentId: string;
  clientAddr: string;
  applicationName: string;
}

/**
 * Live sessions, newest first, each on a connection its agent serves; only those on `connectionIds` when
 * given (a scoped caller). Sessions an admin
 * ended are left out at once (the agent's next heartbeat would drop them anyway), unless `includeEnded`.
 */
export async function listLiveSessions(
  db: TDb,
  filter: { connectionIds?: string[]; sessionId?: string; includeEnded?: boolean } = {},
): Promise<TLiveSessionRow[]> {
  const rows = await db.$queryRaw<
    (Omit<TLiveSessionReport, "startedAt"> & { agent_id: string; startedAt: Date })[]
  >`
    SELECT a.id AS agent_id, s.*
    FROM agents a
    CROSS JOIN LATERAL jsonb_to_recordset(a.live_sessions) AS s(
      "sessionId" uuid, "identityName" text, "identityKind" text, "connectionId" text, "connectionName" text,
      environment text, "clientAddr" text, "applicationName" text, "startedAt" timestamptz)
    WHERE a.last_heartbeat_at > now() - make_interval(secs => ${AGENT_ONLINE_WITHIN_S})
      -- An agent reports sessions of the connections it serves; others it names are not believed.
      AND EXISTS (SELECT 1 FROM connections c WHERE c.id::text = s."connectionId" AND c.agent_id = a.id)
      AND (${filter.includeEnded ?? false}
           OR NOT EXISTS (SELECT 1 FROM session_terminations t WHERE t.session_id = s."sessionId"))
      AND (${filter.sessionId ?? null}::uuid IS NULL OR s."sessionId" = ${filter.sessionId ?? null}::uuid)
      AND (${filter.connectionIds ?? null}::text[] IS NULL OR s."connectionId" = ANY(${filter.connectionIds ?? null}::text[]))
    ORDER BY s."startedAt" DESC
    LIMIT 2000`;
  return rows.map((r) => ({
    sessionId: r.sessionId,
    startedAt: r.startedAt,
    actorName: r.identityName,
    actorKind: r.identityKind,
    connectionId: r.connectionId,
    connectionName: r.connectionName,
    environment: r.environment,
    agentId: r.agent_id,
    clientAddr: r.clientAddr,
    applicationName: r.applicationName,
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
  const session = (await listLiveSessions(db, { sessionId: input.sessionId, includeEnded: true }))[0];
  if (!session) throw new NotFoundError(`live session ${input.sessionId}`);
  mayEnd(session);
  await db.$transaction(async (tx: Prisma.TransactionClient) => {
    // Past their time in snapshots they serve nothing (the timeline keeps who ended what): pruned here.
    await tx.$executeRaw`
      DELETE FROM session_terminations WHERE created_at < now() - ${ENDED_SESSION_TTL}::interval`;
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
        message: `ended ${session.actorName}'s session on ${session.connectionName}${
          client ? ` (${client})` : ""
        }${input.reason ? `: ${input.reason}` : ""}`,
        connection: {
          id: session.connectionId,
          name: session.connectionName,
          environment: session.environment,
        },
        agentId: session.agentId,
        sessionId: session.sessionId,
        details: { session: session.sessionId, reason: input.reason, revision },
      }),
    ]);
  });
  return session;
}
