// Lookups the control plane's auth layers need: API tokens (REST, CLI, agents' identities) and dashboard logins.
import type { TDb } from "../client.ts";
import { hashToken, verifyPassword } from "../secrets.ts";

export const identitySelect = {
  id: true,
  name: true,
  displayName: true,
  kind: true,
  roles: true,
  disabledAt: true,
  memberships: { select: { group: { select: { name: true, roles: true } } } },
} as const;

export interface TAuthenticatedIdentity {
  id: string;
  name: string;
  displayName: string;
  kind: "human" | "service" | "ai_agent";
  /** Own roles plus those inherited from groups. */
  roles: ("admin" | "approver" | "member" | "auditor")[];
  groups: string[];
}

type TIdentityRow = {
  id: string;
  name: string;
  displayName: string;
  kind: TAuthenticatedIdentity["kind"];
  roles: TAuthenticatedIdentity["roles"];
  memberships: { group: { name: string; roles: TAuthenticatedIdentity["roles"] } }[];
};

function toAuthenticated(row: TIdentityRow): TAuthenticatedIdentity {
  const roles = new Set(row.roles);
  for (const m of row.memberships) for (const r of m.group.roles) roles.add(r);
  return {
    id: row.id,
    name: row.name,
    displayName: row.displayName,
    kind: row.kind,
    roles: [...roles],
    groups: row.memberships.map((m) => m.group.name),
  };
}

/** Resolves a bearer API token to its identity and scope, or null when unknown, revoked, expired or disabled. */
export async function authenticateApiToken(
  db: TDb,
  token: string,
  now = new Date(),
): Promise<{
  identity: TAuthenticatedIdentity;
  tokenId: string;
  connectionIds: string[];
  expiresAt: Date | null;
} | null> {
  const row = await db.apiToken.findUnique({
    where: { tokenHash: hashToken(token) },
    select: {
      id: true,
      expiresAt: true,
      revokedAt: true,
      connectionIds: true,
      identity: { select: identitySelect },
    },
  });
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt <= now) || row.identity.disabledAt)
    return null;
  // Best effort: a failed bookkeeping write must not fail the request.
  await db.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: now } }).catch(() => undefined);
  return {
    identity: toAuthenticated(row.identity),
    tokenId: row.id,
    connectionIds: row.connectionIds,
    expiresAt: row.expiresAt,
  };
}

/**
 * Verified in place of a missing hash, with the same scrypt parameters as hashPassword: answering at once for an
 * unknown, disabled or password-less account would tell an attacker which accounts exist and have a password.
 * Its password is random and discarded, so nothing verifies against it.
 */
const DUMMY_PASSWORD_HASH = "scrypt$pYoBaYWliG+M7EQ3vcXgCA==$7os1i5twBPuHgVyUC7aDPeI4BAVlhsekT953h8JK3iE=";

/** Dashboard login with a password (the demo's credentials provider). Costs one scrypt whatever the outcome. */
export async function authenticatePassword(
  db: TDb,
  name: string,
  password: string,
): Promise<TAuthenticatedIdentity | null> {
  const row = await db.identity.findUnique({
    where: { name },
    select: { ...identitySelect, passwordHash: true },
  });
  const verified = await verifyPassword(password, row?.passwordHash ?? DUMMY_PASSWORD_HASH);
  if (!row || row.disabledAt || !row.passwordHash || !verified) return null;
  return toAuthenticated(row);
}

export async function findIdentityById(db: TDb, id: string): Promise<TAuthenticatedIdentity | null> {
  const row = await db.identity.findUnique({ where: { id }, select: identitySelect });
  return row && !row.disabledAt ? toAuthenticated(row) : null;
}
