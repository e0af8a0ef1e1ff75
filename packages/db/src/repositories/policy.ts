// What an agent needs to enforce policy offline for the connections it serves.
import { createHmac } from "node:crypto";
import type { TDb } from "../client.ts";
import { recentlyEndedSessions } from "./sessions.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { decryptSecret } from "../secrets.ts";
import { credentialPublicKeys } from "./db-credentials.ts";

const POLICY_REVISION_KEY = "policy_revision";

export async function getPolicyRevision(db: TDb): Promise<number> {
  const row = await db.setting.findUnique({ where: { key: POLICY_REVISION_KEY }, select: { value: true } });
  return typeof row?.value === "number" ? row.value : 0;
}

/** Call after any change to connections, grants, tokens, guardrails or masking rules: agents re-pull. */
export async function bumpPolicyRevision(db: TDb | Prisma.TransactionClient): Promise<number> {
  const rows = await db.$queryRaw<{ value: number }[]>`
    INSERT INTO settings (key, value, updated_at) VALUES (${POLICY_REVISION_KEY}, '1'::jsonb, now())
    ON CONFLICT (key) DO UPDATE SET value = to_jsonb((settings.value)::text::int + 1), updated_at = now()
    RETURNING (value)::text::int AS value`;
  return rows[0]?.value ?? 0;
}

function earliest(...dates: (Date | null)[]): Date | null {
  const present = dates.filter((d): d is Date => d !== null);
  return present.length === 0 ? null : new Date(Math.min(...present.map((d) => d.getTime())));
}

export interface TPolicySnapshotData {
  revision: number;
  issuedAt: string;
  maskingKey: string;
  credentialKeys: { kid: string; publicKey: string }[];
  /** Sessions on this agent an admin ended recently: it closes them if still open. */
  endedSessions: string[];
  connections: {
    id: string;
    name: string;
    environment: string;
    upstream: {
      host: string;
      port: number;
      database: string;
      username: string;
      password: string | null;
      tlsMode: string;
      ca: string | null;
    };
    credentials: {
      identityId: string;
      identityName: string;
      identityKind: "human" | "service" | "ai_agent";
      groups: string[];
      tokenHash: string;
      expiresAt: string | null;
    }[];
    /** Active grants: what short-lived signed credentials are checked against. */
    grants: {
      identityId: string;
      identityName: string;
      identityKind: "human" | "service" | "ai_agent";
      groups: string[];
      expiresAt: string | null;
    }[];
    guardrails: {
      id: string;
      name: string;
      priority: number;
      action: "allow" | "block" | "require_approval";
      message: string;
      match: Record<string, unknown>;
    }[];
    maskingRules: {
      id: string;
      name: string;
      columnPattern: string | null;
      detector: string | null;
      strategy: "redact" | "partial" | "hash" | "null" | "format_preserving";
      exemptIdentities: string[];
      exemptGroups: string[];
    }[];
  }[];
}

/** Grants in force at `now`: begun, not ended, not revoked. The one definition the snapshot and the API share. */
export function grantsInForce(now: Date): Prisma.GrantWhereInput {
  return { revokedAt: null, startsAt: { lte: now }, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] };
}

/** What the snapshot needs of an identity that holds a grant, directly or through a group. */
function granteeSelect(now: Date) {
  return {
    id: true,
    name: true,
    kind: true,
    disabledAt: true,
    memberships: { select: { group: { select: { name: true } } } },
    apiTokens: {
      where: { revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
      select: { tokenHash: true, expiresAt: true, connectionIds: true },
    },
  } as const satisfies Prisma.IdentitySelect;
}

type TGrantee = Prisma.IdentityGetPayload<{ select: ReturnType<typeof granteeSelect> }>;
type TConnectionAccess = Pick<TPolicySnapshotData["connections"][number], "credentials" | "grants">;

/** The later of two ends of access, where null is none. */
function latest(a: Date | null, b: Date | null): Date | null {
  return a === null || b === null ? null : a > b ? a : b;
}

/**
 * Who may connect, from a connection's active grants: each identity granted directly or through a group
 * (disabled ones left out), once, until its longest-lasting grant ends; and each of their API tokens that may
 * reach the connection, until the earlier of that and the token's own end.
 */
function grantedAccess(
  connectionId: string,
  grants: {
    expiresAt: Date | null;
    identity: TGrantee | null;
    group: { members: { identity: TGrantee }[] } | null;
  }[],
): TConnectionAccess {
  const byIdentity = new Map<string, { identity: TGrantee; until: Date | null }>();
  for (const grant of grants) {
    const grantees = grant.identity ? [grant.identity] : (grant.group?.members.map((m) => m.identity) ?? []);
    for (const identity of grantees) {
      if (identity.disabledAt) continue;
      const previous = byIdentity.get(identity.id);
      byIdentity.set(identity.id, {
        identity,
        until: previous ? latest(previous.until, grant.expiresAt) : grant.expiresAt,
      });
    }
  }
  const access: TConnectionAccess = { credentials: [], grants: [] };
  for (const { identity, until } of byIdentity.values()) {
    const who = {
      identityId: identity.id,
      identityName: identity.name,
      identityKind: identity.kind,
      groups: identity.memberships.map((m) => m.group.name),
    };
    access.grants.push({ ...who, expiresAt: until?.toISOString() ?? null });
    for (const token of identity.apiTokens)
      if (token.connectionIds.length === 0 || token.connectionIds.includes(connectionId))
        access.credentials.push({
          ...who,
          tokenHash: token.tokenHash,
          expiresAt: earliest(until, token.expiresAt)?.toISOString() ?? null,
        });
  }
  return access;
}

export async function buildPolicySnapshot(
  db: TDb,
  agentId: string,
  options: { secretKey: Buffer; now?: Date },
): Promise<TPolicySnapshotData> {
  const now = options.now ?? new Date();
  const revision = await getPolicyRevision(db);
  const connections = await db.connection.findMany({
    where: { agentId },
    orderBy: { name: "asc" },
    select: {
      id: true,
      name: true,
      environment: true,
      host: true,
      port: true,
      database: true,
      username: true,
      secretCiphertext: true,
      tlsMode: true,
      tlsCa: true,
      grants: {
        where: grantsInForce(now),
        select: {
          expiresAt: true,
          identity: { select: granteeSelect(now) },
          group: { select: { members: { select: { identity: { select: granteeSelect(now) } } } } },
        },
      },
    },
  });
  const rules = await loadRules(db, connections);
  return {
    revision,
    issuedAt: now.toISOString(),
    // Derived, not stored: every replica computes the same key from the deployment secret.
    maskingKey: createHmac("sha256", options.secretKey).update("portcullis-masking-v1").digest("hex"),
    credentialKeys: await credentialPublicKeys(db),
    endedSessions: await recentlyEndedSessions(db, agentId),
    connections: connections.map((c) => ({
      id: c.id,
      name: c.name,
      environment: c.environment,
      upstream: {
        host: c.host,
        port: c.port,
        database: c.database,
        username: c.username,
        password: c.secretCiphertext ? decryptSecret(c.secretCiphertext, options.secretKey) : null,
        tlsMode: c.tlsMode,
        ca: c.tlsCa,
      },
      ...grantedAccess(c.id, c.grants),
      ...rules.forConnection(c),
    })),
  };
}

type TRuleSet = Pick<TPolicySnapshotData["connections"][number], "guardrails" | "maskingRules">;

/** Guardrails and masking rules of each connection: its own, plus those of its environment or of all. */
async function loadRules(
  db: TDb,
  connections: { id: string; environment: string }[],
): Promise<{ forConnection(c: { id: string; environment: string }): TRuleSet }> {
  const connectionIds = connections.map((c) => c.id);
  const [guardrails, maskingRules] = await Promise.all([
    db.guardrail.findMany({
      where: { enabled: true, OR: [{ connectionId: { in: connectionIds } }, { connectionId: null }] },
      orderBy: [{ priority: "asc" }, { createdAt: "asc" }],
      select: {
        id: true,
        name: true,
        priority: true,
        action: true,
        message: true,
        match: true,
        connectionId: true,
        environment: true,
      },
    }),
    db.maskingRule.findMany({
      where: { enabled: true, OR: [{ connectionId: { in: connectionIds } }, { connectionId: null }] },
      orderBy: { createdAt: "asc" },
      select: {
        id: true,
        name: true,
        columnPattern: true,
        detector: true,
        strategy: true,
        exemptIdentities: true,
        exemptGroups: true,
        connectionId: true,
        environment: true,
      },
    }),
  ]);
  // A rule without a connection applies to every connection of its environment (or to all, without one).
  const appliesTo = (
    rule: { connectionId: string | null; environment: string | null },
    c: { id: string; environment: string },
  ) =>
    rule.connectionId === c.id ||
    (rule.connectionId === null && (rule.environment === null || rule.environment === c.environment));

  return {
    forConnection: (c) => ({
      guardrails: guardrails
        .filter((g) => appliesTo(g, c))
        .map((g) => ({
          id: g.id,
          name: g.name,
          priority: g.priority,
          action: g.action,
          message: g.message,
          match: (g.match ?? {}) as Record<string, unknown>,
        })),
      maskingRules: maskingRules
        .filter((m) => appliesTo(m, c))
        .map((m) => ({
          id: m.id,
          name: m.name,
          columnPattern: m.columnPattern,
          detector: m.detector,
          strategy: m.strategy,
          exemptIdentities: m.exemptIdentities,
          exemptGroups: m.exemptGroups,
        })),
    }),
  };
}

/** One connection's rules (no credentials, no secrets), for previews in the dashboard. Null if unknown. */
export async function getConnectionRules(
  db: TDb,
  connection: { id: string } | { name: string },
): Promise<({ id: string; name: string; environment: string } & TRuleSet) | null> {
  const row = await db.connection.findUnique({
    where: "id" in connection ? { id: connection.id } : { name: connection.name },
    select: { id: true, name: true, environment: true },
  });
  if (!row) return null;
  return { ...row, ...(await loadRules(db, [row])).forConnection(row) };
}
