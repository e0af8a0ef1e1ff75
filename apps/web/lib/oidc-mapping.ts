// Single sign-on: what an OpenID provider's claims mean to Portcullis. Pure, so env.ts (parsing the mapping)
// and auth.ts (applying it at sign-in) share one implementation that unit tests cover without a provider.
import { z } from "zod";

export const SSO_ROLES = ["admin", "approver", "member", "auditor"] as const;
export type TSsoRole = (typeof SSO_ROLES)[number];

export interface TRoleMappingEntry {
  group: string;
  role: TSsoRole;
}

export const DEFAULT_ROLE_MAPPING =
  "portcullis-admins:admin,portcullis-approvers:approver,portcullis-auditors:auditor";

/** Longer names are not group names but garbage (or an attack on the groups table). */
const MAX_GROUP_NAME = 200;

const ZRole = z.enum(SSO_ROLES);

/**
 * Parses `group:role,group:role`. Splits at the last colon: group names may contain colons (URNs, Azure
 * group names), role names never do. A group may appear more than once to grant several roles.
 */
export function parseRoleMapping(
  text: string,
): { ok: true; mapping: TRoleMappingEntry[] } | { ok: false; error: string } {
  const mapping: TRoleMappingEntry[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const colon = item.lastIndexOf(":");
    const group = colon > 0 ? item.slice(0, colon).trim() : "";
    const role = ZRole.safeParse(colon > 0 ? item.slice(colon + 1).trim() : "");
    if (!group || group.length > MAX_GROUP_NAME || !role.success)
      return {
        ok: false,
        error: `"${item}" is not group:role with a role of ${SSO_ROLES.join(", ")}`,
      };
    mapping.push({ group, role: role.data });
  }
  return { ok: true, mapping };
}

/**
 * The roles the provider's groups grant, in a stable order. Someone in no mapped group is a member: signed in
 * and attributable, allowed nothing more.
 */
export function rolesForGroups(groups: readonly string[], mapping: readonly TRoleMappingEntry[]): TSsoRole[] {
  const held = new Set(groups);
  const granted = new Set(mapping.filter((m) => held.has(m.group)).map((m) => m.role));
  return granted.size === 0 ? ["member"] : SSO_ROLES.filter((role) => granted.has(role));
}

function claimAt(claims: Record<string, unknown>, name: string): unknown {
  if (name in claims) return claims[name];
  // Nested claims, e.g. Keycloak's realm_access.roles.
  let value: unknown = claims;
  for (const part of name.split(".")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** The groups claim as clean, distinct names. Some providers send a lone group as a plain string. */
export function groupsFromClaims(claims: Record<string, unknown>, claimName: string): string[] {
  const value = claimAt(claims, claimName);
  const list = Array.isArray(value) ? value : typeof value === "string" ? [value] : [];
  const groups = list
    .filter((g): g is string => typeof g === "string")
    .map((g) => g.trim())
    .filter((g) => g !== "" && g.length <= MAX_GROUP_NAME);
  return [...new Set(groups)];
}

/**
 * ID token claims win: they are signed. Userinfo fills in what the provider keeps out of the ID token, and
 * only when it is about the same person (OpenID Connect Core 5.3.2: its `sub` must match).
 */
export function mergeClaims(
  idToken: Record<string, unknown>,
  userinfo: Record<string, unknown> | null,
): Record<string, unknown> {
  if (userinfo && userinfo.sub !== idToken.sub)
    throw new Error("the userinfo response is about another subject than the ID token");
  return { ...userinfo, ...idToken };
}

const ZSsoClaims = z.object({
  sub: z.string().min(1),
  email: z.string().optional(),
  // Some providers send "true"/"false" strings; many (Azure AD) send nothing, which is taken as verified.
  email_verified: z.union([z.boolean(), z.string()]).optional(),
  name: z.string().optional(),
  preferred_username: z.string().optional(),
});

/** String forms of false as providers and their admins spell them ("FALSE", "0", "no"); absent is verified. */
const UNVERIFIED_STRINGS = new Set(["false", "0", "no"]);

function isUnverified(verified: boolean | string | undefined): boolean {
  return (
    verified === false ||
    (typeof verified === "string" && UNVERIFIED_STRINGS.has(verified.trim().toLowerCase()))
  );
}

export type TSsoPerson =
  | {
      ok: true;
      subject: string;
      email: string;
      displayName: string;
      groups: string[];
      roles: TSsoRole[];
    }
  | { ok: false; reason: "invalid_claims" | "missing_email" | "unverified_email" };

/**
 * Who the provider says signed in. People are matched to identities by email, so an address the provider
 * itself calls unverified must not sign anyone in: it could name someone else's identity.
 */
export function personFromClaims(
  claims: Record<string, unknown>,
  options: { groupsClaim: string; mapping: readonly TRoleMappingEntry[] },
): TSsoPerson {
  const parsed = ZSsoClaims.safeParse(claims);
  if (!parsed.success) return { ok: false, reason: "invalid_claims" };
  const email = parsed.data.email?.trim().toLowerCase() ?? "";
  if (!z.email().safeParse(email).success) return { ok: false, reason: "missing_email" };
  if (isUnverified(parsed.data.email_verified)) return { ok: false, reason: "unverified_email" };
  const groups = groupsFromClaims(claims, options.groupsClaim);
  const displayName = (parsed.data.name ?? parsed.data.preferred_username ?? "").trim() || email;
  return {
    ok: true,
    subject: parsed.data.sub,
    email,
    displayName: displayName.slice(0, 200),
    groups,
    roles: rolesForGroups(groups, options.mapping),
  };
}
