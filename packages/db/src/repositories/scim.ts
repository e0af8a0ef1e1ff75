// SCIM provisioning: the identity provider (Okta, Entra ID, ...) creates, updates and deactivates people and
// groups here, so a leaver loses access when IT disables them rather than at their next sign-in. Only human
// identities are SCIM users; services and AI agents stay Portcullis's own. Every change bumps the policy
// revision (agents drop a deactivated person's credentials and end their sessions within seconds) and is an
// admin_change audit event in the same transaction, by the identity whose token the provider uses.
import type { TDb } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { appendAuditEventsIn, controlPlaneEvent } from "./audit-events.ts";
import { IdentityConflictError, NotFoundError } from "./identities.ts";
import { bumpPolicyRevision } from "./policy.ts";
import type { TAdminActor } from "./policy-rules.ts";

export class ScimMemberError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScimMemberError";
  }
}

const scimUserSelect = {
  id: true,
  name: true,
  displayName: true,
  externalId: true,
  disabledAt: true,
  createdAt: true,
  updatedAt: true,
  memberships: { select: { group: { select: { id: true, name: true } } } },
} as const satisfies Prisma.IdentitySelect;

const scimGroupSelect = {
  id: true,
  name: true,
  externalId: true,
  createdAt: true,
  members: { select: { identity: { select: { id: true, name: true } } } },
} as const satisfies Prisma.GroupSelect;

export interface TScimUserRow {
  id: string;
  userName: string;
  displayName: string;
  externalId: string | null;
  active: boolean;
  groups: { id: string; name: string }[];
  createdAt: Date;
  updatedAt: Date;
}

export interface TScimGroupRow {
  id: string;
  displayName: string;
  externalId: string | null;
  members: { id: string; userName: string }[];
  createdAt: Date;
}

export interface TScimUserInput {
  userName: string;
  displayName: string;
  externalId: string | null;
  active: boolean;
}

export interface TScimGroupInput {
  displayName: string;
  externalId: string | null;
  /** Identity ids; each must be a human identity. */
  memberIds: string[];
}

function toUser(row: Prisma.IdentityGetPayload<{ select: typeof scimUserSelect }>): TScimUserRow {
  return {
    id: row.id,
    userName: row.name,
    displayName: row.displayName,
    externalId: row.externalId,
    active: row.disabledAt === null,
    groups: row.memberships.map((m) => m.group),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function toGroup(row: Prisma.GroupGetPayload<{ select: typeof scimGroupSelect }>): TScimGroupRow {
  return {
    id: row.id,
    displayName: row.name,
    externalId: row.externalId,
    members: row.members.map((m) => ({ id: m.identity.id, userName: m.identity.name })),
    createdAt: row.createdAt,
  };
}

/** Login names are matched as sign-in matches them: case-insensitively, stored in lower case. */
const normalisedUserName = (userName: string) => userName.trim().toLowerCase();

/** Human identities, narrowed by the equality filters providers send (`userName eq "..."`). */
export async function listScimUsers(
  db: TDb,
  filter: { id?: string; userName?: string; externalId?: string } = {},
): Promise<TScimUserRow[]> {
  const rows = await db.identity.findMany({
    where: {
      kind: "human",
      scimDeletedAt: null,
      ...(filter.id ? { id: filter.id } : {}),
      ...(filter.userName
        ? { name: { equals: normalisedUserName(filter.userName), mode: "insensitive" as const } }
        : {}),
      ...(filter.externalId ? { externalId: filter.externalId } : {}),
    },
    orderBy: { createdAt: "asc" },
    select: scimUserSelect,
  });
  return rows.map(toUser);
}

export async function listScimGroups(
  db: TDb,
  filter: { id?: string; displayName?: string; externalId?: string } = {},
): Promise<TScimGroupRow[]> {
  const rows = await db.group.findMany({
    where: {
      ...(filter.id ? { id: filter.id } : {}),
      ...(filter.displayName ? { name: filter.displayName } : {}),
      ...(filter.externalId ? { externalId: filter.externalId } : {}),
    },
    orderBy: { createdAt: "asc" },
    select: scimGroupSelect,
  });
  return rows.map(toGroup);
}

async function record(
  tx: Prisma.TransactionClient,
  actor: TAdminActor,
  message: string,
  details: Record<string, unknown>,
): Promise<void> {
  const revision = await bumpPolicyRevision(tx);
  await appendAuditEventsIn(tx, [
    controlPlaneEvent({
      type: "admin_change",
      actor,
      decision: "allowed",
      message,
      applicationName: "scim",
      details: { scim: details, revision },
    }),
  ]);
}

async function assertUserNameFree(tx: Prisma.TransactionClient, name: string, exceptId?: string) {
  const other = await tx.identity.findFirst({
    where: { name: { equals: name, mode: "insensitive" }, ...(exceptId ? { id: { not: exceptId } } : {}) },
    select: { id: true },
  });
  if (other) throw new IdentityConflictError(`An identity named ${name} already exists`);
}

/**
 * Ends everything that lets a person in: their API tokens are revoked (reactivating them later does not
 * bring old tokens back) and, when they are deleted, their group memberships and direct grants go too.
 */
async function cutAccess(tx: Prisma.TransactionClient, identityId: string, now: Date, deleted: boolean) {
  const tokens = await tx.apiToken.updateMany({
    where: { identityId, revokedAt: null },
    data: { revokedAt: now },
  });
  if (!deleted) return { tokensRevoked: tokens.count };
  const memberships = await tx.groupMember.deleteMany({ where: { identityId } });
  const grants = await tx.grant.updateMany({
    where: { identityId, revokedAt: null },
    data: { revokedAt: now },
  });
  return { tokensRevoked: tokens.count, groupsLeft: memberships.count, grantsRevoked: grants.count };
}

/**
 * Creates a person, or brings back one the provider deleted earlier (a rehire keeps one identity and one
 * history). A name any other identity holds is a conflict: the provider is expected to find and link it.
 */
export async function createScimUser(
  db: TDb,
  actor: TAdminActor,
  input: TScimUserInput,
): Promise<TScimUserRow> {
  const name = normalisedUserName(input.userName);
  return db.$transaction(async (tx) => {
    const deleted = await tx.identity.findFirst({
      where: { name: { equals: name, mode: "insensitive" }, kind: "human", scimDeletedAt: { not: null } },
      select: { id: true },
    });
    if (!deleted) await assertUserNameFree(tx, name);
    const data = {
      name,
      displayName: input.displayName,
      scimManaged: true,
      externalId: input.externalId,
      disabledAt: input.active ? null : new Date(),
    };
    const row = deleted
      ? await tx.identity.update({
          where: { id: deleted.id },
          data: { ...data, scimDeletedAt: null },
          select: scimUserSelect,
        })
      : await tx.identity.create({ data: { ...data, kind: "human", roles: [] }, select: scimUserSelect });
    await record(
      tx,
      actor,
      `SCIM ${deleted ? "re-created" : "created"} ${name}${input.active ? "" : " (inactive)"}`,
      { user: { id: row.id, userName: name, externalId: input.externalId, active: input.active } },
    );
    return toUser(row);
  });
}

/** Replaces a person's SCIM attributes (PUT, and PATCH once applied). Deactivation cuts their access at once. */
export async function updateScimUser(
  db: TDb,
  actor: TAdminActor,
  id: string,
  input: TScimUserInput,
  now = new Date(),
): Promise<TScimUserRow> {
  const name = normalisedUserName(input.userName);
  return db.$transaction(async (tx) => {
    const before = await tx.identity.findFirst({
      where: { id, kind: "human", scimDeletedAt: null },
      select: scimUserSelect,
    });
    if (!before) throw new NotFoundError(`user ${id}`);
    if (name !== before.name) await assertUserNameFree(tx, name, id);
    const wasActive = before.disabledAt === null;
    const row = await tx.identity.update({
      where: { id },
      data: {
        name,
        displayName: input.displayName,
        externalId: input.externalId,
        scimManaged: true,
        disabledAt: input.active ? null : (before.disabledAt ?? now),
      },
      select: scimUserSelect,
    });
    const changes = [
      name !== before.name ? `renamed ${before.name} → ${name}` : null,
      input.displayName !== before.displayName ? `display name "${input.displayName}"` : null,
      wasActive && !input.active ? "deactivated" : null,
      !wasActive && input.active ? "reactivated" : null,
      input.externalId !== before.externalId ? `external id ${input.externalId ?? "none"}` : null,
    ].filter((c): c is string => c !== null);
    if (changes.length === 0) return toUser(row);
    const cut = wasActive && !input.active ? await cutAccess(tx, id, now, false) : {};
    await record(tx, actor, `SCIM updated ${name}: ${changes.join("; ")}`, {
      user: { id, userName: name, externalId: input.externalId, active: input.active },
      before: { userName: before.name, displayName: before.displayName, active: wasActive },
      ...cut,
    });
    return toUser(row);
  });
}

/**
 * The provider deleted the person. The identity stays (the audit timeline names it) but is deactivated and
 * leaves its groups and grants; it no longer appears as a SCIM user.
 */
export async function deleteScimUser(
  db: TDb,
  actor: TAdminActor,
  id: string,
  now = new Date(),
): Promise<void> {
  await db.$transaction(async (tx) => {
    const before = await tx.identity.findFirst({
      where: { id, kind: "human", scimDeletedAt: null },
      select: { name: true, disabledAt: true },
    });
    if (!before) throw new NotFoundError(`user ${id}`);
    await tx.identity.update({
      where: { id },
      data: { disabledAt: before.disabledAt ?? now, scimDeletedAt: now, externalId: null },
    });
    const cut = await cutAccess(tx, id, now, true);
    await record(tx, actor, `SCIM deleted ${before.name}: deactivated, removed from its groups and grants`, {
      user: { id, userName: before.name },
      ...cut,
    });
  });
}

async function assertMembers(tx: Prisma.TransactionClient, memberIds: string[]): Promise<void> {
  if (memberIds.length === 0) return;
  const found = await tx.identity.findMany({
    where: { id: { in: memberIds }, kind: "human", scimDeletedAt: null },
    select: { id: true },
  });
  const known = new Set(found.map((f) => f.id));
  const unknown = memberIds.filter((m) => !known.has(m));
  if (unknown.length > 0) throw new ScimMemberError(`No SCIM user with id ${unknown.join(", ")}`);
}

async function setMembers(
  tx: Prisma.TransactionClient,
  groupId: string,
  memberIds: string[],
): Promise<{ joined: string[]; left: string[] }> {
  const current = await tx.groupMember.findMany({
    where: { groupId },
    select: { identity: { select: { id: true, name: true } } },
  });
  const wanted = new Set(memberIds);
  const have = new Set(current.map((c) => c.identity.id));
  const leaving = current.filter((c) => !wanted.has(c.identity.id));
  const joining = memberIds.filter((id) => !have.has(id));
  if (leaving.length > 0)
    await tx.groupMember.deleteMany({
      where: { groupId, identityId: { in: leaving.map((l) => l.identity.id) } },
    });
  if (joining.length > 0)
    await tx.groupMember.createMany({
      data: joining.map((identityId) => ({ groupId, identityId })),
      skipDuplicates: true,
    });
  const names =
    joining.length > 0
      ? await tx.identity.findMany({ where: { id: { in: joining } }, select: { name: true } })
      : [];
  return { joined: names.map((n) => n.name).sort(), left: leaving.map((l) => l.identity.name).sort() };
}

export async function createScimGroup(
  db: TDb,
  actor: TAdminActor,
  input: TScimGroupInput,
): Promise<TScimGroupRow> {
  const memberIds = [...new Set(input.memberIds)];
  return db.$transaction(async (tx) => {
    const existing = await tx.group.findUnique({ where: { name: input.displayName }, select: { id: true } });
    if (existing) throw new IdentityConflictError(`A group named ${input.displayName} already exists`);
    await assertMembers(tx, memberIds);
    const group = await tx.group.create({
      data: { name: input.displayName, externalId: input.externalId, scimManaged: true },
      select: { id: true },
    });
    const { joined } = await setMembers(tx, group.id, memberIds);
    await record(
      tx,
      actor,
      `SCIM created group ${input.displayName}${joined.length > 0 ? ` with ${joined.join(", ")}` : ""}`,
      { group: { id: group.id, displayName: input.displayName, externalId: input.externalId }, joined },
    );
    return toGroup(await tx.group.findUniqueOrThrow({ where: { id: group.id }, select: scimGroupSelect }));
  });
}

/**
 * Replaces a group's name and members. From then on the group is SCIM-managed: a member's sign-in no longer
 * adds or removes them from it, whatever their groups claim says.
 */
export async function updateScimGroup(
  db: TDb,
  actor: TAdminActor,
  id: string,
  input: TScimGroupInput,
): Promise<TScimGroupRow> {
  const memberIds = [...new Set(input.memberIds)];
  return db.$transaction(async (tx) => {
    // Serialises concurrent PATCHes of one group, which providers send in bursts.
    await tx.$executeRaw`SELECT 1 FROM groups WHERE id = ${id}::uuid FOR UPDATE`;
    const before = await tx.group.findUnique({
      where: { id },
      select: { name: true, externalId: true, scimManaged: true },
    });
    if (!before) throw new NotFoundError(`group ${id}`);
    if (input.displayName !== before.name) {
      const other = await tx.group.findUnique({ where: { name: input.displayName }, select: { id: true } });
      if (other) throw new IdentityConflictError(`A group named ${input.displayName} already exists`);
    }
    await assertMembers(tx, memberIds);
    await tx.group.update({
      where: { id },
      data: { name: input.displayName, externalId: input.externalId, scimManaged: true },
    });
    const { joined, left } = await setMembers(tx, id, memberIds);
    const changes = [
      input.displayName !== before.name ? `renamed ${before.name} → ${input.displayName}` : null,
      joined.length > 0 ? `added ${joined.join(", ")}` : null,
      left.length > 0 ? `removed ${left.join(", ")}` : null,
      !before.scimManaged ? "now managed by SCIM" : null,
    ].filter((c): c is string => c !== null);
    if (changes.length > 0 || input.externalId !== before.externalId)
      await record(
        tx,
        actor,
        `SCIM updated group ${input.displayName}: ${changes.join("; ") || "external id"}`,
        {
          group: { id, displayName: input.displayName, externalId: input.externalId },
          joined,
          left,
        },
      );
    return toGroup(await tx.group.findUniqueOrThrow({ where: { id }, select: scimGroupSelect }));
  });
}

/** Deletes a group with its memberships and its grants: its former members lose what it gave them. */
export async function deleteScimGroup(db: TDb, actor: TAdminActor, id: string): Promise<void> {
  await db.$transaction(async (tx) => {
    const before = await tx.group.findUnique({
      where: { id },
      select: {
        name: true,
        _count: { select: { members: true } },
        grants: { where: { revokedAt: null }, select: { id: true, connection: { select: { name: true } } } },
      },
    });
    if (!before) throw new NotFoundError(`group ${id}`);
    await tx.group.delete({ where: { id } });
    const connections = before.grants.map((g) => g.connection.name).sort();
    await record(
      tx,
      actor,
      `SCIM deleted group ${before.name} (${before._count.members} members${
        connections.length > 0 ? `; its grants to ${connections.join(", ")} ended` : ""
      })`,
      { group: { id, displayName: before.name }, grantsEnded: before.grants.map((g) => g.id) },
    );
  });
}
