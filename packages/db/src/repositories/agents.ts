import type { TDb } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import type { TLiveSessionReport } from "./sessions.ts";
import { generateToken, hashToken } from "../secrets.ts";

export interface TAgentRef {
  id: string;
  name: string;
}

/** Creates the agent record if needed and a one-time enrollment token for it (shown once). */
export async function issueEnrollmentToken(
  db: TDb,
  agentName: string,
  ttlMs = 60 * 60 * 1000,
  now = new Date(),
): Promise<{ agent: TAgentRef; token: string; expiresAt: Date }> {
  const agent = await db.agent.upsert({
    where: { name: agentName },
    create: { name: agentName },
    update: {},
    select: { id: true, name: true },
  });
  const token = generateToken("pcen");
  const expiresAt = new Date(now.getTime() + ttlMs);
  await db.agentEnrollmentToken.create({
    data: { agentId: agent.id, tokenHash: hashToken(token), expiresAt },
  });
  return { agent, token, expiresAt };
}

/**
 * Authenticates the bearer an agent presents when it opens its link: either its long-lived credential, or a
 * one-time enrollment token, which is consumed here and exchanged for a new credential (returned once).
 */
export async function authenticateAgentBearer(
  db: TDb,
  bearer: string,
  now = new Date(),
): Promise<{ agent: TAgentRef; issuedCredential: string | null } | null> {
  const tokenHash = hashToken(bearer);
  if (bearer.startsWith("pcag_")) {
    const agent = await db.agent.findUnique({
      where: { credentialHash: tokenHash },
      select: { id: true, name: true },
    });
    return agent ? { agent, issuedCredential: null } : null;
  }
  if (!bearer.startsWith("pcen_")) return null;
  return db.$transaction(async (tx) => {
    // Conditional update: of two agents racing with one token, only one consumes it.
    const consumed = await tx.agentEnrollmentToken.updateMany({
      where: { tokenHash, usedAt: null, expiresAt: { gt: now } },
      data: { usedAt: now },
    });
    if (consumed.count !== 1) return null;
    const enrollment = await tx.agentEnrollmentToken.findUniqueOrThrow({
      where: { tokenHash },
      select: { agentId: true },
    });
    const credential = generateToken("pcag");
    const agent = await tx.agent.update({
      where: { id: enrollment.agentId },
      data: { credentialHash: hashToken(credential) },
      select: { id: true, name: true },
    });
    return { agent, issuedCredential: credential };
  });
}

export async function recordAgentHeartbeat(
  db: TDb,
  agentId: string,
  info: {
    version?: string;
    hostname?: string;
    address?: string;
    startedAt?: Date;
    /** The sessions open now, when the heartbeat listed them. */
    liveSessions?: TLiveSessionReport[];
  },
  now = new Date(),
): Promise<void> {
  await db.agent.update({
    where: { id: agentId },
    data: {
      lastHeartbeatAt: now,
      ...(info.startedAt ? { startedAt: info.startedAt } : {}),
      ...(info.liveSessions ? { liveSessions: info.liveSessions as unknown as Prisma.InputJsonValue } : {}),
      ...(info.version ? { version: info.version } : {}),
      ...(info.hostname ? { hostname: info.hostname } : {}),
      // Always written: an agent that stops announcing an address must not keep the old one.
      address: info.address ?? null,
    },
  });
}

/**
 * Where clients reach each of these agents, for those that heartbeated since `since` (to whichever
 * control-plane replica); agents without a recent heartbeat or an announced address are left out.
 */
export async function recentAgentAddresses(
  db: TDb,
  agentIds: string[],
  since: Date,
): Promise<Map<string, string>> {
  if (agentIds.length === 0) return new Map();
  const rows = await db.agent.findMany({
    where: { id: { in: agentIds }, lastHeartbeatAt: { gte: since }, address: { not: null } },
    select: { id: true, address: true },
  });
  return new Map(rows.flatMap((r) => (r.address ? [[r.id, r.address] as const] : [])));
}

export interface TAgentSummary {
  id: string;
  name: string;
  version: string | null;
  hostname: string | null;
  lastHeartbeatAt: Date | null;
  /** When its current process started, as it said in its latest hello. */
  startedAt: Date | null;
  enrolled: boolean;
  connections: { id: string; name: string; environment: string }[];
  /** Enrollment tokens not used yet and not expired. */
  openEnrollments: number;
}

export async function listAgents(db: TDb, now = new Date()): Promise<TAgentSummary[]> {
  const rows = await db.agent.findMany({
    orderBy: { name: "asc" },
    select: {
      id: true,
      name: true,
      version: true,
      hostname: true,
      lastHeartbeatAt: true,
      startedAt: true,
      credentialHash: true,
      connections: { orderBy: { name: "asc" }, select: { id: true, name: true, environment: true } },
      _count: { select: { enrollmentTokens: { where: { usedAt: null, expiresAt: { gt: now } } } } },
    },
  });
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    version: row.version,
    hostname: row.hostname,
    lastHeartbeatAt: row.lastHeartbeatAt,
    startedAt: row.startedAt,
    enrolled: row.credentialHash !== null,
    connections: row.connections,
    openEnrollments: row._count.enrollmentTokens,
  }));
}
