// What an agent needs to enforce policy offline for the connections it serves.
import { createHmac } from "node:crypto";
import type { TDb } from "../client.ts";
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
        where: {
          revokedAt: null,
          startsAt: { lte: now },
          OR: [{ expiresAt: null }, { expiresAt: { gt: now } }],
        },
        select: {
          expiresAt: true,
          identity: {
            select: {
              id: true,
              name: true,
              kind: true,
              disabledAt: true,
              memberships: { select: { group: { select: { name: true } } } },
              apiTokens: {
                where: { revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
                select: { tokenHash: true, expiresAt: true, connectionIds: true },
              },
            },
          },
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
      credentials: c.grants.flatMap((grant) =>
        grant.identity.disabledAt
          ? []
          : grant.identity.apiTokens
              .filter((t) => t.connectionIds.length === 0 || t.connectionIds.includes(c.id))
              .map((t) => ({
                identityId: grant.identity.id,
                identityName: grant.identity.name,
                identityKind: grant.identity.kind,
                groups: grant.identity.memberships.map((m) => m.group.name),
                tokenHash: t.tokenHash,
                expiresAt: earliest(grant.expiresAt, t.expiresAt)?.toISOString() ?? null,
              })),
      ),
      grants: c.grants.flatMap((grant) =>
        grant.identity.disabledAt
          ? []
          : [
              {
                identityId: grant.identity.id,
                identityName: grant.identity.name,
                identityKind: grant.identity.kind,
                groups: grant.identity.memberships.map((m) => m.group.name),
                expiresAt: grant.expiresAt?.toISOString() ?? null,
              },
            ],
      ),
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
