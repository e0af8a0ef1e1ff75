// Single sign-on: the OpenID provider is the source of truth for who a person is, which roles they hold and
// which groups they are in (but for groups it manages over SCIM, see scim.ts). Each sign-in brings the identity in line with it; any change bumps the policy
// revision (group membership reaches agents through credential snapshots) and is audited in the same
// transaction, with the provider's issuer and subject as evidence of where the change came from.
import type { TDb } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { findIdentityById, type TAuthenticatedIdentity } from "./access.ts";
import { appendAuditEventsIn, controlPlaneEvent } from "./audit-events.ts";
import { anotherAdminRemains, lockIdentity } from "./identities.ts";
import { named, nameInAnyCase } from "./names.ts";
import { bumpPolicyRevision } from "./policy.ts";

type TRole = TAuthenticatedIdentity["roles"][number];

/**
 * A sign-in asserted an identity's email for another subject than the one of the same issuer that first
 * linked it (a reassigned address, or a provider account that took on someone's email): refused and audited.
 */
export class SsoSubjectMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SsoSubjectMismatchError";
  }
}

export interface TSsoSignIn {
  /** The provider's issuer URL and its stable id for the person (`iss`, `sub`). */
  issuer: string;
  subject: string;
  /** Matched to Identity.name, case-insensitively; new identities are named by it in lower case. */
  email: string;
  displayName: string;
  groups: string[];
  /**
   * Exactly the roles the provider's groups map to; other roles the identity held are removed, except that the
   * last active admin keeps its admin role.
   */
  roles: TRole[];
}

const ssoIdentitySelect = {
  id: true,
  name: true,
  displayName: true,
  kind: true,
  roles: true,
  disabledAt: true,
  ssoIssuer: true,
  ssoSubject: true,
  memberships: { select: { group: { select: { id: true, name: true, scimManaged: true, roles: true } } } },
} as const;

type TSsoIdentityRow = Prisma.IdentityGetPayload<{ select: typeof ssoIdentitySelect }>;

async function findByEmail(tx: Prisma.TransactionClient, name: string): Promise<TSsoIdentityRow | null> {
  // Exact first; an identity an admin created as "Ada@Corp.example" is still Ada (the oldest, if several).
  const exact = await tx.identity.findUnique({ where: { name }, select: ssoIdentitySelect });
  if (exact) return exact;
  const candidates = await tx.identity.findMany({
    where: { name: nameInAnyCase(name) },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    select: ssoIdentitySelect,
  });
  return named(candidates, name)[0] ?? null;
}

const isAdmin = (row: TSsoIdentityRow) =>
  row.roles.includes("admin") || row.memberships.some((m) => m.group.roles.includes("admin"));

/** Whether the identity is still an admin with these roles and these groups (beside its SCIM-managed ones). */
async function adminAfterSync(
  tx: Prisma.TransactionClient,
  row: TSsoIdentityRow,
  roles: readonly TRole[],
  ssoGroups: string[],
): Promise<boolean> {
  if (roles.includes("admin")) return true;
  if (row.memberships.some((m) => m.group.scimManaged && m.group.roles.includes("admin"))) return true;
  if (ssoGroups.length === 0) return false;
  const adminGroups = await tx.group.count({
    where: { name: { in: ssoGroups }, scimManaged: false, roles: { has: "admin" } },
  });
  return adminGroups > 0;
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && new Set([...a, ...b]).size === new Set(a).size;

/**
 * Finds or creates the person's identity and syncs its roles and groups. Returns null (sign-in refused) for a
 * disabled identity, and for a service or AI-agent identity of that name: those never use the dashboard.
 * The first sign-in to link an identity binds it to the provider's issuer and subject; a later one for another
 * subject of that issuer throws SsoSubjectMismatchError, after recording the refusal.
 */
export async function upsertSsoIdentity(db: TDb, input: TSsoSignIn): Promise<TAuthenticatedIdentity | null> {
  const name = input.email.trim().toLowerCase();
  const mappedRoles = [...new Set(input.roles)];
  const groups = [...new Set(input.groups)];
  const outcome = await db.$transaction(async (tx) => {
    const found = await findByEmail(tx, name);
    let created = false;
    if (!found) {
      // ON CONFLICT DO NOTHING: a concurrent first sign-in of the same person must not fail this one.
      const inserted = await tx.identity.createMany({
        data: [
          {
            name,
            displayName: input.displayName,
            kind: "human",
            roles: mappedRoles,
            ssoIssuer: input.issuer,
            ssoSubject: input.subject,
          },
        ],
        skipDuplicates: true,
      });
      created = inserted.count === 1;
    }
    // One sign-in at a time per identity, read after the lock: two subjects racing to link an unbound
    // identity must not both succeed.
    const where = found ? { id: found.id } : { name };
    const id = (await tx.identity.findUnique({ where, select: { id: true } }))?.id;
    if (id) await lockIdentity(tx, id);
    const row = id ? await tx.identity.findUnique({ where: { id }, select: ssoIdentitySelect }) : null;
    if (!row) throw new Error(`identity ${name} vanished while signing in`);
    if (row.disabledAt || row.kind !== "human") return { refused: null };

    const bound = row.ssoIssuer !== null && row.ssoSubject !== null;
    if (bound && row.ssoIssuer === input.issuer && row.ssoSubject !== input.subject) {
      const message = `single sign-on refused for ${row.name}: the provider asserted its email for subject ${input.subject}, but it is bound to subject ${row.ssoSubject}`;
      await recordSubjectMismatch(tx, row, input, message);
      return { refused: message };
    }
    // The first link binds; a new issuer (the provider was replaced) binds afresh.
    const binds = !bound || row.ssoIssuer !== input.issuer;

    // Groups the provider manages over SCIM take their members from SCIM alone: a token issued before a
    // removal (or a claim that leaves groups out) must not put the person back, nor take them out.
    const scimGroups = new Set(
      groups.length === 0
        ? []
        : (
            await tx.group.findMany({
              where: { name: { in: groups }, scimManaged: true },
              select: { name: true },
            })
          ).map((g) => g.name),
    );
    const ssoGroups = groups.filter((g) => !scimGroups.has(g));
    const beforeGroups = row.memberships.filter((m) => !m.group.scimManaged).map((m) => m.group.name);
    // Signing in must not leave Portcullis with no admin (as deactivating or deleting over SCIM must not):
    // the last active admin keeps its admin role, and the change event says why.
    const keptAdmin =
      isAdmin(row) &&
      !(await adminAfterSync(tx, row, mappedRoles, ssoGroups)) &&
      !(await anotherAdminRemains(tx, row.id));
    const roles = keptAdmin ? [...mappedRoles, "admin" as const] : mappedRoles;
    const rolesChanged = !sameSet(row.roles, roles);
    const groupsChanged = !sameSet(beforeGroups, ssoGroups);
    if (rolesChanged || binds || row.displayName !== input.displayName)
      await tx.identity.update({
        where: { id: row.id },
        data: { roles, displayName: input.displayName, ssoIssuer: input.issuer, ssoSubject: input.subject },
      });
    if (groupsChanged) {
      if (ssoGroups.length > 0)
        await tx.group.createMany({ data: ssoGroups.map((g) => ({ name: g })), skipDuplicates: true });
      const wanted = await tx.group.findMany({
        where: { name: { in: ssoGroups }, scimManaged: false },
        select: { id: true },
      });
      const wantedIds = wanted.map((g) => g.id);
      await tx.groupMember.deleteMany({
        where: { identityId: row.id, groupId: { notIn: wantedIds }, group: { scimManaged: false } },
      });
      await tx.groupMember.createMany({
        data: wantedIds.map((groupId) => ({ groupId, identityId: row.id })),
        skipDuplicates: true,
      });
    }
    if (created || rolesChanged || groupsChanged || binds)
      await recordSsoChange(tx, row, input, {
        created,
        before: { roles: row.roles, groups: beforeGroups },
        after: { roles, groups: ssoGroups },
        keptAdmin,
        boundFrom:
          created || !binds ? undefined : bound ? { issuer: row.ssoIssuer, subject: row.ssoSubject } : null,
      });
    return { id: row.id };
  });
  // Thrown only now: the refusal's audit event is committed with the transaction.
  if ("refused" in outcome) {
    if (outcome.refused) throw new SsoSubjectMismatchError(outcome.refused);
    return null;
  }
  // Effective roles include those of Portcullis-side group settings, read the same way every request does.
  return findIdentityById(db, outcome.id);
}

async function recordSsoChange(
  tx: Prisma.TransactionClient,
  identity: { id: string; name: string },
  input: TSsoSignIn,
  change: {
    created: boolean;
    before: { roles: string[]; groups: string[] };
    after: { roles: string[]; groups: string[] };
    keptAdmin: boolean;
    /** Set when this sign-in bound an existing identity: the binding it replaced (null: none). */
    boundFrom?: { issuer: string | null; subject: string | null } | null;
  },
): Promise<void> {
  const revision = await bumpPolicyRevision(tx);
  const list = (items: string[]) => (items.length === 0 ? "none" : [...items].sort().join(", "));
  const joined = change.after.groups.filter((g) => !change.before.groups.includes(g));
  const left = change.before.groups.filter((g) => !change.after.groups.includes(g));
  const changes = [
    sameSet(change.before.roles, change.after.roles)
      ? null
      : `roles ${list(change.before.roles)} → ${list(change.after.roles)}`,
    joined.length > 0 ? `joined ${list(joined)}` : null,
    left.length > 0 ? `left ${list(left)}` : null,
    change.boundFrom === null ? `bound to subject ${input.subject} at ${input.issuer}` : null,
    change.boundFrom
      ? `bound to subject ${input.subject} at ${input.issuer} (was ${change.boundFrom.subject ?? "none"} at ${change.boundFrom.issuer ?? "none"})`
      : null,
    change.keptAdmin
      ? "kept the admin role the provider's groups no longer give: this is the last active admin"
      : null,
  ].filter((part): part is string => part !== null);
  const message = change.created
    ? `single sign-on created ${identity.name} with roles ${list(change.after.roles)} and groups ${list(change.after.groups)}`
    : `single sign-on updated ${identity.name}: ${changes.join("; ")}`;
  await appendAuditEventsIn(tx, [
    controlPlaneEvent({
      type: "admin_change",
      actor: { id: identity.id, name: identity.name, kind: "human" },
      decision: "allowed",
      message,
      applicationName: "sso",
      details: {
        sso: { issuer: input.issuer, subject: input.subject },
        created: change.created,
        before: change.created ? null : change.before,
        after: change.after,
        ...(change.boundFrom !== undefined ? { boundFrom: change.boundFrom } : {}),
        ...(change.keptAdmin
          ? { keptAdmin: { reason: "last active admin", providerRoles: input.roles } }
          : {}),
        revision,
      },
    }),
  ]);
}

async function recordSubjectMismatch(
  tx: Prisma.TransactionClient,
  identity: { id: string; name: string; ssoIssuer: string | null; ssoSubject: string | null },
  input: TSsoSignIn,
  message: string,
): Promise<void> {
  await appendAuditEventsIn(tx, [
    controlPlaneEvent({
      type: "auth_failure",
      // The identity did not act: someone else's provider account asserted its email.
      actor: { id: null, name: identity.name, kind: "human" },
      decision: "denied",
      message,
      applicationName: "sso",
      details: {
        sso: { issuer: input.issuer, subject: input.subject },
        identity: { id: identity.id, name: identity.name },
        bound: { issuer: identity.ssoIssuer, subject: identity.ssoSubject },
      },
    }),
  ]);
}
