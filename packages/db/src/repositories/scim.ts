// SCIM provisioning: the identity provider (Okta, Entra ID, ...) creates, updates and deactivates people and
// groups here, so a leaver loses access when IT disables them rather than at their next sign-in. Only human
// identities are SCIM users; services and AI agents stay Portcullis's own. Every change bumps the policy
// revision (agents drop a deactivated person's credentials and end their sessions within seconds) and is an
// admin_change audit event in the same transaction, by the identity whose token the provider uses.
import type { TDb } from "../client.ts";
import { Prisma } from "../generated/prisma/client.ts";
import {
  assertAnotherAdminRemains,
  IdentityConflictError,
  lockIdentity,
  NotFoundError,
  recordIdentityChange,
} from "./identities.ts";
import { named, nameInAnyCase, sameName } from "./names.ts";
import type { TAdminActor } from "./policy-rules.ts";

export class ScimMemberError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScimMemberError";
  }
}

/** A change SCIM may not make: Portcullis-local accounts, the provider's own identity, groups that give roles. */
export class ScimForbiddenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScimForbiddenError";
  }
}

/**
 * SCIM users are people the provider can know: human, not deleted over SCIM, and not a local account with a
 * password (the break-glass admin signs in without the provider, so the provider cannot deactivate it).
 */
const scimUserWhere = { kind: "human", scimDeletedAt: null, passwordHash: null } as const;

/** Two requests creating one name at once: the loser is a conflict (409), not a failure (500). */
async function conflictOnDuplicate<T>(work: Promise<T>, message: string): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002")
      throw new IdentityConflictError(message);
    throw error;
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
  // Services and AI agents in a group are Portcullis's own: the provider neither sees nor replaces them.
  members: {
    where: { identity: scimUserWhere },
    select: { identity: { select: { id: true, name: true } } },
  },
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
  /** Absent (a PUT that leaves it out): the person stays as active or inactive as they are. */
  active?: boolean;
}

export interface TScimGroupInput {
  displayName: string;
  externalId: string | null;
  /** Identity ids; each must be a SCIM user. */
  memberIds: string[];
  /**
   * For a PATCH: the members the provider's operations were applied to. Only the difference is applied to
   * the members as they are now, so concurrent PATCHes of one group (Entra sends them in bursts) all land.
   */
  membersBasis?: string[];
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

/** A window of a list, in its stable order (creation, then id). */
export interface TScimPage {
  skip: number;
  take: number;
}

/** Creation order, with the id to break ties, so pages neither repeat nor skip rows created together. */
const listOrder = [{ createdAt: "asc" as const }, { id: "asc" as const }];

function scimUserFilter(filter: { id?: string; userName?: string; externalId?: string }) {
  return {
    ...scimUserWhere,
    ...(filter.id !== undefined ? { id: filter.id } : {}),
    ...(filter.userName !== undefined ? { name: nameInAnyCase(normalisedUserName(filter.userName)) } : {}),
    ...(filter.externalId !== undefined ? { externalId: filter.externalId } : {}),
  } satisfies Prisma.IdentityWhereInput;
}

function scimGroupFilter(filter: { id?: string; displayName?: string; externalId?: string }) {
  return {
    ...(filter.id !== undefined ? { id: filter.id } : {}),
    // displayName is not case-exact (RFC 7643), so a provider's "DBA" finds and links "dba".
    ...(filter.displayName !== undefined ? { name: nameInAnyCase(filter.displayName) } : {}),
    ...(filter.externalId !== undefined ? { externalId: filter.externalId } : {}),
  } satisfies Prisma.GroupWhereInput;
}

/** Human identities, narrowed by the equality filters providers send (`userName eq "..."`). */
export async function listScimUsers(
  db: TDb,
  filter: { id?: string; userName?: string; externalId?: string } = {},
): Promise<TScimUserRow[]> {
  const rows = await db.identity.findMany({
    where: scimUserFilter(filter),
    orderBy: listOrder,
    select: scimUserSelect,
  });
  const userName = filter.userName;
  return (userName === undefined ? rows : named(rows, normalisedUserName(userName))).map(toUser);
}

/**
 * One page of every SCIM user and how many there are: a provider's full sync pages through them all, and
 * each page read only its own rows (not every user with their groups, once per page).
 */
export async function pageScimUsers(
  db: TDb,
  page: TScimPage,
): Promise<{ total: number; rows: TScimUserRow[] }> {
  const [total, rows] = await db.$transaction(
    [
      db.identity.count({ where: scimUserWhere }),
      db.identity.findMany({
        where: scimUserWhere,
        orderBy: listOrder,
        skip: page.skip,
        take: page.take,
        select: scimUserSelect,
      }),
    ],
    { isolationLevel: "RepeatableRead" },
  );
  return { total, rows: rows.map(toUser) };
}

export async function listScimGroups(
  db: TDb,
  filter: { id?: string; displayName?: string; externalId?: string } = {},
): Promise<TScimGroupRow[]> {
  const rows = await db.group.findMany({
    where: scimGroupFilter(filter),
    orderBy: listOrder,
    select: scimGroupSelect,
  });
  const displayName = filter.displayName;
  return (displayName === undefined ? rows : named(rows, displayName)).map(toGroup);
}

/** As pageScimUsers, for groups. */
export async function pageScimGroups(
  db: TDb,
  page: TScimPage,
): Promise<{ total: number; rows: TScimGroupRow[] }> {
  const [total, rows] = await db.$transaction(
    [
      db.group.count(),
      db.group.findMany({ orderBy: listOrder, skip: page.skip, take: page.take, select: scimGroupSelect }),
    ],
    { isolationLevel: "RepeatableRead" },
  );
  return { total, rows: rows.map(toGroup) };
}

function record(
  tx: Prisma.TransactionClient,
  actor: TAdminActor,
  message: string,
  details: Record<string, unknown>,
): Promise<void> {
  return recordIdentityChange(tx, actor, { message, details: { scim: details }, applicationName: "scim" });
}

async function assertUserNameFree(tx: Prisma.TransactionClient, name: string, exceptId?: string) {
  const others = await tx.identity.findMany({
    where: { name: nameInAnyCase(name), ...(exceptId ? { id: { not: exceptId } } : {}) },
    select: { name: true },
  });
  if (named(others, name).length > 0)
    throw new IdentityConflictError(`An identity named ${name} already exists`);
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
 * history, without the roles, groups, grants or tokens it had). A name any other identity holds is a
 * conflict: the provider is expected to find and link it.
 */
export async function createScimUser(
  db: TDb,
  actor: TAdminActor,
  input: TScimUserInput,
): Promise<TScimUserRow> {
  const name = normalisedUserName(input.userName);
  const active = input.active ?? true;
  const work = db.$transaction(async (tx) => {
    const deleted = named(
      await tx.identity.findMany({
        where: { name: nameInAnyCase(name), kind: "human", scimDeletedAt: { not: null } },
        orderBy: listOrder,
        select: { id: true, name: true, deactivatedByAdmin: true },
      }),
      name,
    )[0];
    if (!deleted) await assertUserNameFree(tx, name);
    // An admin's lockout outlives the provider deleting and re-creating the person.
    const heldByAdmin = deleted?.deactivatedByAdmin ?? false;
    const data = {
      name,
      displayName: input.displayName,
      scimManaged: true,
      externalId: input.externalId,
      roles: [],
      disabledAt: active && !heldByAdmin ? null : new Date(),
    };
    const row = deleted
      ? await tx.identity.update({
          where: { id: deleted.id },
          data: { ...data, scimDeletedAt: null },
          select: scimUserSelect,
        })
      : await tx.identity.create({ data: { ...data, kind: "human" }, select: scimUserSelect });
    await record(
      tx,
      actor,
      `SCIM ${deleted ? "re-created" : "created"} ${name}${
        heldByAdmin
          ? " (stays deactivated: an admin deactivated it in Portcullis)"
          : active
            ? ""
            : " (inactive)"
      }`,
      { user: { id: row.id, userName: name, externalId: input.externalId, active: active && !heldByAdmin } },
    );
    return toUser(row);
  });
  return conflictOnDuplicate(work, `An identity named ${name} already exists`);
}

/** The provider's own token must keep working: it cannot deactivate, delete or rename its own identity. */
function refuseSelf(actor: TAdminActor, id: string, what: string): void {
  if (actor.id === id)
    throw new ScimForbiddenError(`SCIM cannot ${what} the identity whose token it uses (${actor.name})`);
}

/**
 * Changes a person's SCIM attributes: all of them for a PUT, those a PATCH changed for a PATCH (undefined:
 * as it is, so two PATCHes at once each change only their own fields). Deactivation cuts their access at once.
 */
export async function updateScimUser(
  db: TDb,
  actor: TAdminActor,
  id: string,
  input: Partial<TScimUserInput>,
  now = new Date(),
): Promise<TScimUserRow> {
  const work = db.$transaction(async (tx) => {
    await lockIdentity(tx, id);
    const before = await tx.identity.findFirst({
      where: { id, ...scimUserWhere },
      select: { ...scimUserSelect, deactivatedByAdmin: true },
    });
    if (!before) throw new NotFoundError(`user ${id}`);
    const name = input.userName === undefined ? before.name : normalisedUserName(input.userName);
    const displayName = input.displayName ?? before.displayName;
    const externalId = input.externalId === undefined ? before.externalId : input.externalId;
    if (name !== before.name) {
      refuseSelf(actor, before.id, "rename");
      await assertUserNameFree(tx, name, before.id);
    }
    const wasActive = before.disabledAt === null;
    // An admin's lockout is lifted by an admin only; the provider's "active" does not.
    const heldByAdmin = input.active === true && !wasActive && before.deactivatedByAdmin;
    const active = heldByAdmin ? false : (input.active ?? wasActive);
    if (wasActive && !active) {
      refuseSelf(actor, before.id, "deactivate");
      await assertAnotherAdminRemains(tx, before.id);
    }
    const row = await tx.identity.update({
      where: { id: before.id },
      data: {
        name,
        displayName,
        externalId,
        scimManaged: true,
        disabledAt: active ? null : (before.disabledAt ?? now),
      },
      select: scimUserSelect,
    });
    const changes = [
      name !== before.name ? `renamed ${before.name} → ${name}` : null,
      displayName !== before.displayName ? `display name "${displayName}"` : null,
      wasActive && !active ? "deactivated" : null,
      !wasActive && active ? "reactivated" : null,
      heldByAdmin ? "stays deactivated (an admin deactivated it in Portcullis)" : null,
      externalId !== before.externalId ? `external id ${externalId ?? "none"}` : null,
    ].filter((c): c is string => c !== null);
    if (changes.length === 0) return toUser(row);
    const cut = wasActive && !active ? await cutAccess(tx, before.id, now, false) : {};
    await record(tx, actor, `SCIM updated ${name}: ${changes.join("; ")}`, {
      user: { id: before.id, userName: name, externalId, active },
      before: { userName: before.name, displayName: before.displayName, active: wasActive },
      ...cut,
    });
    return toUser(row);
  });
  return conflictOnDuplicate(work, `An identity named ${input.userName ?? ""} already exists`);
}

/**
 * The provider deleted the person. The identity stays (the audit timeline names it) but is deactivated,
 * loses its roles and leaves its groups and grants; it no longer appears as a SCIM user.
 */
export async function deleteScimUser(
  db: TDb,
  actor: TAdminActor,
  id: string,
  now = new Date(),
): Promise<void> {
  await db.$transaction(async (tx) => {
    await lockIdentity(tx, id);
    const before = await tx.identity.findFirst({
      where: { id, ...scimUserWhere },
      select: { id: true, name: true, disabledAt: true },
    });
    if (!before) throw new NotFoundError(`user ${id}`);
    refuseSelf(actor, before.id, "delete");
    if (!before.disabledAt) await assertAnotherAdminRemains(tx, before.id);
    await tx.identity.update({
      where: { id },
      data: { disabledAt: before.disabledAt ?? now, scimDeletedAt: now, externalId: null, roles: [] },
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
    where: { id: { in: memberIds }, ...scimUserWhere },
    select: { id: true },
  });
  const known = new Set(found.map((f) => f.id));
  const unknown = memberIds.filter((m) => !known.has(m));
  if (unknown.length > 0) throw new ScimMemberError(`No SCIM user with id ${unknown.join(", ")}`);
}

/** Makes the group's SCIM-user members exactly `memberIds`; its services and AI agents stay as they are. */
async function setMembers(
  tx: Prisma.TransactionClient,
  groupId: string,
  memberIds: string[],
): Promise<{ joined: string[]; left: string[] }> {
  const current = await tx.groupMember.findMany({
    where: { groupId, identity: scimUserWhere },
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

/** Membership of a group that gives Portcullis roles is privilege: it is managed in Portcullis only. */
function refuseRoleGroup(group: { name: string; roles: string[] }): void {
  if (group.roles.length > 0)
    throw new ScimForbiddenError(
      `Group ${group.name} gives the Portcullis roles ${group.roles.join(", ")}: its members are managed in Portcullis, not over SCIM`,
    );
}

export async function createScimGroup(
  db: TDb,
  actor: TAdminActor,
  input: TScimGroupInput,
): Promise<TScimGroupRow> {
  const memberIds = [...new Set(input.memberIds)];
  const work = db.$transaction(async (tx) => {
    // Grants and rules name groups exactly; a second group differing only in case would split them.
    const [existing] = named(
      await tx.group.findMany({
        where: { name: nameInAnyCase(input.displayName) },
        orderBy: listOrder,
        select: { name: true },
      }),
      input.displayName,
    );
    if (existing) throw new IdentityConflictError(`A group named ${existing.name} already exists`);
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
  return conflictOnDuplicate(work, `A group named ${input.displayName} already exists`);
}

/**
 * Sets a group's name and members (PUT: exactly these; PATCH: the difference from `membersBasis`, applied to
 * the members as they are now, under the row's lock). From then on the group is SCIM-managed: a member's
 * sign-in no longer adds or removes them from it, whatever their groups claim says.
 */
export async function updateScimGroup(
  db: TDb,
  actor: TAdminActor,
  id: string,
  input: TScimGroupInput,
): Promise<TScimGroupRow> {
  const memberIds = [...new Set(input.memberIds)];
  const work = db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT 1 FROM groups WHERE id = ${id}::uuid FOR UPDATE`;
    const before = await tx.group.findUnique({
      where: { id },
      select: { name: true, roles: true, externalId: true, scimManaged: true },
    });
    if (!before) throw new NotFoundError(`group ${id}`);
    refuseRoleGroup(before);
    // A provider that spells the name in another case (it found the group case-insensitively) does not
    // rename it: grants, rules and sign-in's groups claim name it exactly.
    const displayName = sameName(input.displayName, before.name) ? before.name : input.displayName;
    if (displayName !== before.name) {
      const [other] = named(
        await tx.group.findMany({
          where: { name: nameInAnyCase(displayName), id: { not: id } },
          orderBy: listOrder,
          select: { name: true },
        }),
        displayName,
      );
      if (other) throw new IdentityConflictError(`A group named ${other.name} already exists`);
    }
    let wanted = memberIds;
    if (input.membersBasis) {
      const basis = new Set(input.membersBasis);
      const added = memberIds.filter((m) => !basis.has(m));
      const removed = new Set(input.membersBasis.filter((m) => !memberIds.includes(m)));
      const now = await tx.groupMember.findMany({
        where: { groupId: id, identity: scimUserWhere },
        select: { identityId: true },
      });
      wanted = [...new Set([...now.map((m) => m.identityId).filter((m) => !removed.has(m)), ...added])];
    }
    await assertMembers(tx, wanted);
    await tx.group.update({
      where: { id },
      data: { name: displayName, externalId: input.externalId, scimManaged: true },
    });
    const { joined, left } = await setMembers(tx, id, wanted);
    const changes = [
      displayName !== before.name ? `renamed ${before.name} → ${displayName}` : null,
      joined.length > 0 ? `added ${joined.join(", ")}` : null,
      left.length > 0 ? `removed ${left.join(", ")}` : null,
      !before.scimManaged ? "now managed by SCIM" : null,
    ].filter((c): c is string => c !== null);
    if (changes.length > 0 || input.externalId !== before.externalId)
      await record(tx, actor, `SCIM updated group ${displayName}: ${changes.join("; ") || "external id"}`, {
        group: { id, displayName, externalId: input.externalId },
        joined,
        left,
      });
    return toGroup(await tx.group.findUniqueOrThrow({ where: { id }, select: scimGroupSelect }));
  });
  return conflictOnDuplicate(work, `A group named ${input.displayName} already exists`);
}

/**
 * Deletes a group the provider manages, with its memberships and its grants: its former members lose what
 * it gave them. Groups made in Portcullis or by sign-in stay until the provider has taken them over.
 */
export async function deleteScimGroup(db: TDb, actor: TAdminActor, id: string): Promise<void> {
  await db.$transaction(async (tx) => {
    const before = await tx.group.findUnique({
      where: { id },
      select: {
        name: true,
        roles: true,
        scimManaged: true,
        _count: { select: { members: true } },
        grants: { where: { revokedAt: null }, select: { id: true, connection: { select: { name: true } } } },
      },
    });
    if (!before) throw new NotFoundError(`group ${id}`);
    refuseRoleGroup(before);
    if (!before.scimManaged)
      throw new ScimForbiddenError(
        `Group ${before.name} was not made or taken over by SCIM: Portcullis keeps it`,
      );
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
