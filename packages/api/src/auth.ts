// Who is calling: a dashboard user (next-auth session) or an automation client (bearer API token). Both the
// tRPC middleware and the REST edge resolve callers here, so the two paths cannot drift apart.
import {
  authenticateApiToken,
  findIdentityById,
  type TAuthenticatedIdentity,
  type TDb,
} from "@portcullis/db";
import { AppError } from "./errors.ts";

export type TRole = TAuthenticatedIdentity["roles"][number];

export interface TCaller {
  identity: TAuthenticatedIdentity;
  via: "session" | "api_token";
  /** Connections an API token is scoped to; empty means no extra restriction. */
  connectionIds: string[];
  /** When the calling API token expires (null: never); absent for a session. */
  tokenExpiresAt?: Date | null;
  /** The calling API token's id; absent for a session. */
  tokenId?: string;
}

/** The part of a next-auth session the API needs. Kept structural so this package does not depend on next-auth. */
export interface TSessionLike {
  user?: { id?: string | null } | null;
}

export function bearerTokenOf(headers: Headers): string | null {
  const header = headers.get("authorization");
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1] ?? null;
}

/**
 * A bearer token wins over a cookie session: an explicit credential says what the client meant. A bad token
 * is an error rather than a fallback to the session, so a misconfigured script never runs as a browser user.
 */
export async function resolveCaller(
  db: TDb,
  input: { headers: Headers; session: TSessionLike | null },
): Promise<TCaller | null> {
  const token = bearerTokenOf(input.headers);
  if (token) {
    const result = await authenticateApiToken(db, token);
    if (!result) throw new AppError("UNAUTHORIZED", "Invalid, expired or revoked API token");
    return {
      identity: result.identity,
      via: "api_token",
      connectionIds: result.connectionIds,
      tokenExpiresAt: result.expiresAt,
      tokenId: result.tokenId,
    };
  }
  const userId = input.session?.user?.id;
  if (!userId) return null;
  // Re-read the identity: a JWT session outlives role changes and disabling, the database does not.
  const identity = await findIdentityById(db, userId);
  return identity ? { identity, via: "session", connectionIds: [] } : null;
}

export function requireRoles(caller: TCaller | null, roles: readonly TRole[]): TCaller {
  if (!caller) throw new AppError("UNAUTHORIZED", "Authentication required");
  if (roles.length > 0 && !roles.some((role) => caller.identity.roles.includes(role))) {
    throw new AppError("FORBIDDEN", `Requires one of the roles: ${roles.join(", ")}`);
  }
  return caller;
}

/**
 * The connections a caller is confined to: an API token's scope, or undefined when nothing restricts it.
 * Lists filter to these; an id outside them is as unknown to the caller as one that does not exist.
 */
export function connectionScopeOf(caller: TCaller): string[] | undefined {
  return caller.connectionIds.length > 0 ? caller.connectionIds : undefined;
}

/** Whether a caller's scope covers this connection (always, for a caller without a scope). */
export function coversConnection(caller: TCaller, connectionId: string): boolean {
  return caller.connectionIds.length === 0 || caller.connectionIds.includes(connectionId);
}

/**
 * For work that reaches beyond any set of connections (agents, new connections, identities, global rules):
 * a token scoped to connections may not do it. `what` says why, e.g. "Enrolling an agent hands it every
 * connection it serves".
 */
export function requireUnscoped(caller: TCaller, what: string): void {
  if (caller.connectionIds.length > 0)
    throw new AppError("FORBIDDEN", `${what}: it needs a token not scoped to connections`);
}
