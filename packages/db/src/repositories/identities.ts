// Identities (people, services, AI agents), their API tokens and their grants to connections. Every change
// that affects who may connect bumps the policy revision, so agents learn it within a second (a revoked
// token's open sessions are ended), and is recorded as an admin_change audit event in the same transaction.
import type { TDb } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { generateToken, hashToken, tokenDisplayPrefix } from "../secrets.ts";
import { appendAuditEventsIn, controlPlaneEvent } from "./audit-events.ts";
import { bumpPolicyRevision, grantsInForce } from "./policy.ts";
import type { TAdminActor } from "./policy-rules.ts";

export type TIdentityKind = "human" | "service" | "ai_agent";
export type TRoleName = "admin" | "approver" | "member" | "auditor";

/** How the timeline's messages name each kind. */
const KIND_LABEL: Record<TIdentityKind, string> = {
  human: "person",
  service: "service",
  ai_agent: "AI agent",
};

export class IdentityConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IdentityConflictError";
  }
}

export class NotFoundError extends Error {
  constructor(what: string) {
    super(`${what} does not exist`);
    this.name = "NotFoundError";
  }
}

const tokenSelect = {
  id: true,
  identityId: true,
  name: true,
  prefix: true,
  connectionIds: true,
  expiresAt: true,
  revokedAt: true,
  lastUsedAt: true,
  createdAt: true,
  issuedByTokenId: true,
} as const;

export type TApiTokenRow = Prisma.ApiTokenGetPayload<{ select: typeof tokenSelect }>;

const identitySummarySelect = {
  id: true,
  name: true,
  displayName: true,
  kind: true,
  roles: true,
  disabledAt: true,
  scimManaged: true,
  createdAt: true,
  memberships: { select: { group: { select: { name: true } } } },
  _count: { select: { apiTokens: { where: { revokedAt: null } } } },
} as const;

export interface TIdentitySummary {
  id: string;
  name: string;
  displayName: string;
  kind: TIdentityKind;
  roles: TRoleName[];
  groups: string[];
  disabled: boolean;
  /** The identity provider manages this person over SCIM. */
  scimManaged: boolean;
  activeTokens: number;
  createdAt: Date;
}

function toSummary(
  row: Prisma.IdentityGetPayload<{ select: typeof identitySummarySelect }>,
): TIdentitySummary {
  return {
    id: row.id,
    name: row.name,
    displayName: row.displayName,
    kind: row.kind,
    roles: row.roles,
    groups: row.memberships.map((m) => m.group.name),
    disabled: row.disabledAt !== null,
    scimManaged: row.scimManaged,
    activeTokens: row._count.apiTokens,
    createdAt: row.createdAt,
  };
}

export async function listIdentities(db: TDb): Promise<TIdentitySummary[]> {
  const rows = await db.identity.findMany({ orderBy: { name: "asc" }, select: identitySummarySelect });
  return rows.map(toSummary);
}

/** Services and AI agents are created here; people arrive through sign-in (SSO) or the demo seed. */
export async function createIdentity(
  db: TDb,
  actor: TAdminActor,
  input: { name: string; displayName: string; kind: TIdentityKind; roles: TRoleName[] },
): Promise<TIdentitySummary> {
  return db.$transaction(async (tx) => {
    const existing = await tx.identity.findUnique({ where: { name: input.name }, select: { id: true } });
    if (existing) throw new IdentityConflictError(`An identity named ${input.name} already exists`);
    const row = await tx.identity.create({ data: input, select: identitySummarySelect });
    await recordIdentityChange(tx, actor, {
      message: `created ${KIND_LABEL[input.kind]} identity "${input.name}"`,
      details: { identity: input },
    });
    return toSummary(row);
  });
}

/**
 * Locks the identity's row for the rest of the transaction, so an admin's and the provider's changes to
 * whether it is active apply one after the other rather than one over the other.
 */
export async function lockIdentity(tx: Prisma.TransactionClient, identityId: string): Promise<void> {
  await tx.$executeRaw`SELECT 1 FROM identities WHERE id = ${identityId}::uuid FOR UPDATE`;
}

/**
 * Whether an active admin other than this identity remains (roles of its own or from a group). The lock makes
 * two admins stepping down at the same moment take turns, so the second sees the first's change.
 */
export async function anotherAdminRemains(
  tx: Prisma.TransactionClient,
  identityId: string,
): Promise<boolean> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('portcullis:active-admins'))`;
  const others = await tx.identity.count({
    where: {
      id: { not: identityId },
      disabledAt: null,
      OR: [{ roles: { has: "admin" } }, { memberships: { some: { group: { roles: { has: "admin" } } } } }],
    },
  });
  return others > 0;
}

/** Refuses to shut out the last active admin. */
export async function assertAnotherAdminRemains(
  tx: Prisma.TransactionClient,
  identityId: string,
): Promise<void> {
  if (!(await anotherAdminRemains(tx, identityId)))
    throw new IdentityConflictError("This is the last active admin: make someone else an admin first");
}

/**
 * Deactivates an identity at once (an incident, a leaver, an AI agent misbehaving) or reactivates it. A
 * deactivated identity's API tokens are revoked, so reactivating it does not bring them back; agents end its
 * sessions and refuse it within seconds, and the dashboard refuses its sign-in.
 */
export async function setIdentityActive(
  db: TDb,
  actor: TAdminActor,
  input: { identityId: string; active: boolean },
  now = new Date(),
): Promise<TIdentitySummary> {
  return db.$transaction(async (tx) => {
    await lockIdentity(tx, input.identityId);
    const before = await tx.identity.findUnique({
      where: { id: input.identityId },
      select: {
        id: true,
        name: true,
        kind: true,
        disabledAt: true,
        deactivatedByAdmin: true,
        scimDeletedAt: true,
      },
    });
    if (!before) throw new NotFoundError(`identity ${input.identityId}`);
    if (!input.active && before.id === actor.id)
      throw new IdentityConflictError("You cannot deactivate yourself: another admin must");
    if (input.active && before.scimDeletedAt)
      throw new IdentityConflictError(
        `${before.name} was deleted at the identity provider: create them there again to bring them back`,
      );
    if (!input.active) await assertAnotherAdminRemains(tx, before.id);
    const wasActive = before.disabledAt === null;
    // Deactivating someone SCIM already deactivated still makes it an admin's lockout.
    if (wasActive !== input.active || (!input.active && !before.deactivatedByAdmin)) {
      await tx.identity.update({
        where: { id: input.identityId },
        data: {
          disabledAt: input.active ? null : (before.disabledAt ?? now),
          deactivatedByAdmin: !input.active,
        },
      });
      // Only its own tokens: tokens it issued to services stay (offboarding a person must not stop the
      // services they set up); revoking one of its tokens, even a revoked one, revokes what that one issued.
      const revoked = input.active
        ? 0
        : (
            await tx.apiToken.updateMany({
              where: { identityId: input.identityId, revokedAt: null },
              data: { revokedAt: now },
            })
          ).count;
      const kind = KIND_LABEL[before.kind];
      await recordIdentityChange(tx, actor, {
        message: input.active
          ? `reactivated ${kind} identity "${before.name}"`
          : `deactivated ${kind} identity "${before.name}" (${plural(revoked, "API token")} revoked)`,
        details: {
          identity: { id: input.identityId, name: before.name },
          active: input.active,
          tokensRevoked: revoked,
        },
      });
    }
    return toSummary(
      await tx.identity.findUniqueOrThrow({ where: { id: input.identityId }, select: identitySummarySelect }),
    );
  });
}

export async function listApiTokens(db: TDb, identityId: string): Promise<TApiTokenRow[]> {
  return db.apiToken.findMany({ where: { identityId }, orderBy: { createdAt: "desc" }, select: tokenSelect });
}

/** Issues a token; the secret is returned once and only its hash is stored. */
export async function createApiToken(
  db: TDb,
  actor: TAdminActor,
  input: {
    identityId: string;
    name: string;
    connectionIds: string[];
    expiresAt: Date | null;
    /** The API token the request came with (null: a dashboard session): revoking it revokes this one. */
    issuedByTokenId?: string | null;
  },
): Promise<{ token: string; row: TApiTokenRow }> {
  const token = generateToken("pcat");
  return db.$transaction(async (tx) => {
    const identity = await tx.identity.findUnique({
      where: { id: input.identityId },
      select: { name: true, disabledAt: true },
    });
    if (!identity) throw new NotFoundError(`identity ${input.identityId}`);
    // It would start working on reactivation, which is meant to bring no old access back.
    if (identity.disabledAt)
      throw new IdentityConflictError(`${identity.name} is deactivated: reactivate it before issuing tokens`);
    const found = await tx.connection.count({ where: { id: { in: input.connectionIds } } });
    if (found !== new Set(input.connectionIds).size) throw new NotFoundError("one of the scoped connections");
    const row = await tx.apiToken.create({
      data: {
        identityId: input.identityId,
        name: input.name,
        tokenHash: hashToken(token),
        prefix: tokenDisplayPrefix(token),
        connectionIds: input.connectionIds,
        expiresAt: input.expiresAt,
        issuedByTokenId: input.issuedByTokenId ?? null,
      },
      select: tokenSelect,
    });
    await recordIdentityChange(tx, actor, {
      message: `issued API token "${input.name}" (${row.prefix}…) to ${identity.name}`,
      details: {
        token: {
          id: row.id,
          prefix: row.prefix,
          connectionIds: row.connectionIds,
          expiresAt: row.expiresAt,
          issuedByTokenId: row.issuedByTokenId,
        },
      },
    });
    return { token, row };
  });
}

/**
 * Revokes a token and every token issued with it (and with those, down the line): the API refuses them at
 * once, agents within a second (their open sessions end). Whoever held a leaked token keeps nothing it
 * minted. Revoking a revoked token again revokes what it issued that is still active.
 */
export async function revokeApiToken(db: TDb, actor: TAdminActor, tokenId: string): Promise<TApiTokenRow> {
  return db.$transaction(async (tx) => {
    const before = await tx.apiToken.findUnique({
      where: { id: tokenId },
      select: { ...tokenSelect, identity: { select: { name: true } } },
    });
    if (!before) throw new NotFoundError(`API token ${tokenId}`);
    const { identity, ...unchanged } = before;
    const now = new Date();
    const row = before.revokedAt
      ? unchanged
      : await tx.apiToken.update({ where: { id: tokenId }, data: { revokedAt: now }, select: tokenSelect });
    const issued = await revokeIssuedBy(tx, tokenId, now);
    if (before.revokedAt && issued.length === 0) return row;
    const named = `API token "${row.name}" (${row.prefix}…) of ${identity.name}`;
    await recordIdentityChange(tx, actor, {
      message: before.revokedAt
        ? `revoked ${plural(issued.length, "API token")} issued with the revoked ${named}`
        : `revoked ${named}${issuedNote(issued)}`,
      details: {
        token: { id: row.id, prefix: row.prefix },
        ...(issued.length > 0 ? { issuedTokensRevoked: issued } : {}),
      },
    });
    return row;
  });
}

interface TRevokedToken {
  id: string;
  prefix: string;
  identityId: string;
}

/** Revokes, in one statement, the active tokens issued with `issuerId` or with tokens it issued. */
async function revokeIssuedBy(
  tx: Prisma.TransactionClient,
  issuerId: string,
  now: Date,
): Promise<TRevokedToken[]> {
  // UNION (not UNION ALL) visits each token once; a revoked token's descendants are still walked, since
  // they may have been minted before it was revoked.
  return tx.$queryRaw<TRevokedToken[]>`
    WITH RECURSIVE issued AS (
      SELECT id FROM api_tokens WHERE issued_by_token_id = ${issuerId}::uuid
      UNION
      SELECT t.id FROM api_tokens t JOIN issued i ON t.issued_by_token_id = i.id
    )
    UPDATE api_tokens SET revoked_at = ${now}
    WHERE id IN (SELECT id FROM issued) AND revoked_at IS NULL
    RETURNING id::text AS "id", prefix, identity_id::text AS "identityId"`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function issuedNote(issued: TRevokedToken[]): string {
  return issued.length > 0 ? ` and ${plural(issued.length, "API token")} issued with it` : "";
}

/**
 * Lets an identity, or every member of a group, connect to a connection (until expiresAt, when given). A group
 * is named as the identity provider names it; granting to one nobody has signed in from yet creates it, so
 * its members get access at their first sign-in.
 */
export async function grantAccess(
  db: TDb,
  actor: TAdminActor,
  input: {
    grantee: { identityId: string } | { group: string };
    connectionId: string;
    reason: string;
    expiresAt: Date | null;
  },
): Promise<{ id: string }> {
  return db.$transaction(async (tx) => {
    const connection = await tx.connection.findUnique({
      where: { id: input.connectionId },
      select: { name: true, environment: true },
    });
    if (!connection) throw new NotFoundError(`connection ${input.connectionId}`);
    let grantee: { identityId: string } | { groupId: string };
    let label: string;
    if ("identityId" in input.grantee) {
      const identity = await tx.identity.findUnique({
        where: { id: input.grantee.identityId },
        select: { name: true },
      });
      if (!identity) throw new NotFoundError(`identity ${input.grantee.identityId}`);
      grantee = { identityId: input.grantee.identityId };
      label = identity.name;
    } else {
      const group = await tx.group.upsert({
        where: { name: input.grantee.group },
        create: { name: input.grantee.group },
        update: {},
        select: { id: true },
      });
      grantee = { groupId: group.id };
      label = `group ${input.grantee.group}`;
    }
    const grant = await tx.grant.create({
      data: {
        ...grantee,
        connectionId: input.connectionId,
        reason: input.reason,
        grantedById: actor.id,
        expiresAt: input.expiresAt,
      },
      select: { id: true },
    });
    await recordIdentityChange(tx, actor, {
      message: `granted ${label} access to ${connection.name}${input.expiresAt ? ` until ${input.expiresAt.toISOString()}` : ""}`,
      connection: { id: input.connectionId, ...connection },
      details: { grant: { id: grant.id, ...input } },
    });
    return grant;
  });
}

/** Grants that let an identity connect now: its own, and those of the groups it is a member of. */
export function activeGrantsOf(identityId: string, now: Date): Prisma.GrantWhereInput {
  return {
    AND: [grantsInForce(now), { OR: [{ identityId }, { group: { members: { some: { identityId } } } }] }],
  };
}

/** Bumps the policy revision (agents re-pull) and records the change in the same transaction. */
export async function recordIdentityChange(
  tx: Prisma.TransactionClient,
  actor: TAdminActor,
  change: {
    message: string;
    details: Record<string, unknown>;
    connection?: { id: string; name: string; environment: string };
    /** Where the change came from when not the dashboard or API ("scim"). */
    applicationName?: string;
  },
): Promise<void> {
  const revision = await bumpPolicyRevision(tx);
  await appendAuditEventsIn(tx, [
    controlPlaneEvent({
      type: "admin_change",
      actor,
      decision: "allowed",
      message: change.message,
      connection: change.connection ?? null,
      ...(change.applicationName ? { applicationName: change.applicationName } : {}),
      details: { ...change.details, revision },
    }),
  ]);
}

/**
 * Ends a grant now: agents drop it (and end the sessions that stand on it) within seconds. `mayRevoke` sees
 * the grant's connection first and throws to refuse (a token scoped to other connections).
 */
export async function revokeGrant(
  db: TDb,
  actor: TAdminActor,
  grantId: string,
  mayRevoke: (connectionId: string) => void = () => undefined,
): Promise<void> {
  await db.$transaction(async (tx) => {
    const grant = await tx.grant.findUnique({
      where: { id: grantId },
      select: {
        revokedAt: true,
        identity: { select: { name: true } },
        group: { select: { name: true } },
        connection: { select: { id: true, name: true, environment: true } },
      },
    });
    if (!grant) throw new NotFoundError(`grant ${grantId}`);
    mayRevoke(grant.connection.id);
    if (grant.revokedAt) return;
    await tx.grant.update({ where: { id: grantId }, data: { revokedAt: new Date() } });
    // The grant, not the grantee's access: another grant may still let them in.
    const grantee = grant.identity ? grant.identity.name : `group ${grant.group?.name ?? "?"}`;
    await recordIdentityChange(tx, actor, {
      message: `revoked ${grantee}'s grant to ${grant.connection.name}`,
      connection: grant.connection,
      details: { grant: { id: grantId } },
    });
  });
}

/** The connections an identity may reach now (its own grants and its groups'), with when that access ends (null: no end). */
export async function listGrantedConnections(
  db: TDb,
  identityId: string,
  now = new Date(),
): Promise<{ id: string; name: string; environment: string; agentId: string; until: Date | null }[]> {
  const grants = await db.grant.findMany({
    where: activeGrantsOf(identityId, now),
    select: {
      expiresAt: true,
      connection: { select: { id: true, name: true, environment: true, agentId: true } },
    },
  });
  const byConnection = new Map<
    string,
    { id: string; name: string; environment: string; agentId: string; until: Date | null }
  >();
  for (const g of grants) {
    const previous = byConnection.get(g.connection.id);
    // The longest-lasting grant decides; one without an end outlasts all.
    let until: Date | null = g.expiresAt;
    if (previous)
      until =
        previous.until === null || g.expiresAt === null
          ? null
          : new Date(Math.max(previous.until.getTime(), g.expiresAt.getTime()));
    byConnection.set(g.connection.id, { ...g.connection, until });
  }
  return [...byConnection.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export interface TGrantSummary {
  id: string;
  grantee:
    | { type: "identity"; id: string; name: string; kind: TIdentityKind }
    | { type: "group"; id: string; name: string; members: number };
  connection: { id: string; name: string; environment: string };
  reason: string;
  grantedBy: string | null;
  viaAccessRequest: boolean;
  startsAt: Date;
  expiresAt: Date | null;
}

/** Grants in force now (not revoked, not ended), connection by connection: who may reach what, and until when. */
export async function listActiveGrants(db: TDb, now = new Date()): Promise<TGrantSummary[]> {
  const rows = await db.grant.findMany({
    where: grantsInForce(now),
    orderBy: [{ connection: { name: "asc" } }, { createdAt: "asc" }],
    select: {
      id: true,
      reason: true,
      grantedById: true,
      accessRequestId: true,
      startsAt: true,
      expiresAt: true,
      identity: { select: { id: true, name: true, kind: true } },
      // Members who can use it: disabled identities are left out of snapshots too.
      group: {
        select: {
          id: true,
          name: true,
          _count: { select: { members: { where: { identity: { disabledAt: null } } } } },
        },
      },
      connection: { select: { id: true, name: true, environment: true } },
    },
  });
  const granterIds = [...new Set(rows.flatMap((r) => (r.grantedById ? [r.grantedById] : [])))];
  const granters = new Map(
    (await db.identity.findMany({ where: { id: { in: granterIds } }, select: { id: true, name: true } })).map(
      (i) => [i.id, i.name],
    ),
  );
  return rows.map((row) => ({
    id: row.id,
    grantee: row.identity
      ? { type: "identity", ...row.identity }
      : { type: "group", id: row.group!.id, name: row.group!.name, members: row.group!._count.members },
    connection: row.connection,
    reason: row.reason,
    grantedBy: row.grantedById ? (granters.get(row.grantedById) ?? null) : null,
    viaAccessRequest: row.accessRequestId !== null,
    startsAt: row.startsAt,
    expiresAt: row.expiresAt,
  }));
}
