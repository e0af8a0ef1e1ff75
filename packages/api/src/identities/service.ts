// Identities, API tokens and grants. Transport-free: callers pass a db, the caller and plain input.
import {
  createApiToken,
  createIdentity,
  grantAccess,
  listActiveGrants,
  listApiTokens,
  listIdentities,
  revokeApiToken,
  revokeGrant,
  setIdentityActive,
  type TApiTokenRow,
  type TDb,
  type TIdentitySummary,
} from "@portcullis/db";
import { connectionScopeOf, coversConnection, requireUnscoped, type TCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { mapDbErrors } from "../lib/db-errors.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
import {
  ZActiveGrantList,
  ZApiTokenDto,
  ZCreateApiTokenInput,
  ZCreatedApiToken,
  ZCreateIdentityInput,
  ZSetIdentityActiveInput,
  ZGrantDto,
  ZGrantInput,
  ZGrantRef,
  ZIdentityDto,
  ZIdentityList,
  ZIdentityRef,
  ZTokenRef,
  type TActiveGrantDto,
  type TApiTokenDto,
  type TIdentityDto,
} from "./schemas.ts";

function toIdentityDto(row: TIdentitySummary): TIdentityDto {
  return { ...row, createdAt: row.createdAt.toISOString() };
}

export function toApiTokenDto(row: TApiTokenRow, now = new Date()): TApiTokenDto {
  return {
    id: row.id,
    identityId: row.identityId,
    name: row.name,
    prefix: row.prefix,
    connectionIds: row.connectionIds,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    status: row.revokedAt ? "revoked" : row.expiresAt && row.expiresAt <= now ? "expired" : "active",
    issuedByTokenId: row.issuedByTokenId,
  };
}

/** A token scoped to some connections cannot hand out access beyond them. */
function requireInScope(caller: TCaller, connectionIds: string[]): void {
  if (caller.connectionIds.length === 0) return;
  const outside =
    connectionIds.length === 0
      ? ["(all connections)"]
      : connectionIds.filter((id) => !caller.connectionIds.includes(id));
  if (outside.length > 0)
    throw new AppError(
      "FORBIDDEN",
      `This API token is scoped to other connections than ${outside.join(", ")}`,
    );
}

export const identityService = {
  /**
   * The directory spans every connection: a token scoped to connections sees only its own identity (which it
   * issues tokens to); who reaches its connections is in `activeGrants`.
   */
  async list(db: TDb, caller: TCaller): Promise<TIdentityDto[]> {
    const rows = (await listIdentities(db)).filter((i) => !connectionScopeOf(caller) || isSelf(caller, i.id));
    return parseOutput(ZIdentityList, rows.map(toIdentityDto), "Identities");
  },

  async create(db: TDb, caller: TCaller, rawInput: unknown): Promise<TIdentityDto> {
    const input = parseInput(ZCreateIdentityInput, rawInput);
    requireUnscoped(caller, "A new identity is not confined to any connection");
    const row = await mapDbErrors(() => createIdentity(db, caller.identity, input));
    return parseOutput(ZIdentityDto, toIdentityDto(row), "Identity");
  },

  /** Deactivation shuts an identity out of every connection: a token scoped to some cannot do it. */
  async setActive(db: TDb, caller: TCaller, rawInput: unknown): Promise<TIdentityDto> {
    const input = parseInput(ZSetIdentityActiveInput, rawInput);
    requireUnscoped(caller, "Deactivating an identity shuts it out of every connection");
    const row = await mapDbErrors(() => setIdentityActive(db, caller.identity, input));
    return parseOutput(ZIdentityDto, toIdentityDto(row), "Identity");
  },

  async tokens(db: TDb, caller: TCaller, rawInput: unknown): Promise<TApiTokenDto[]> {
    const input = parseInput(ZIdentityRef, rawInput);
    requireSelfOrAdmin(caller, input.identityId);
    const scope = connectionScopeOf(caller);
    if (scope && !isSelf(caller, input.identityId))
      throw new AppError("FORBIDDEN", "A token scoped to connections sees only its own identity's tokens");
    // Of those, only tokens confined to its scope: the others reach (and name) connections beyond it.
    const rows = (await listApiTokens(db, input.identityId)).filter(
      (r) => !scope || (r.connectionIds.length > 0 && r.connectionIds.every((id) => scope.includes(id))),
    );
    return parseOutput(
      ZApiTokenDto.array(),
      rows.map((r) => toApiTokenDto(r)),
      "API tokens",
    );
  },

  /**
   * A token scoped to connections issues tokens only to its own identity (within its scope): a token of
   * another identity would let its holder act under that name inside the scope, e.g. as the approver group
   * a guardrail asks for, or to decide its own identity's requests as someone else. Nor may the new token
   * outlive the one issuing it: a short-lived token would otherwise mint itself a long-lived successor.
   */
  async createToken(db: TDb, caller: TCaller, rawInput: unknown) {
    const input = parseInput(ZCreateApiTokenInput, rawInput);
    if (connectionScopeOf(caller) && !isSelf(caller, input.identityId))
      throw new AppError(
        "FORBIDDEN",
        "A token scoped to connections issues tokens only to its own identity: another identity's token needs a token not scoped to connections",
      );
    requireInScope(caller, input.connectionIds);
    const expiresAt = new Date(Date.now() + input.expiresInHours * 3600_000);
    const latest = connectionScopeOf(caller) ? caller.tokenExpiresAt : null;
    if (latest && expiresAt > latest)
      throw new AppError(
        "FORBIDDEN",
        `A token scoped to connections issues tokens that expire no later than itself (${latest.toISOString()}): ask for fewer expiresInHours`,
      );
    const { token, row } = await mapDbErrors(() =>
      createApiToken(db, caller.identity, {
        identityId: input.identityId,
        name: input.name,
        connectionIds: input.connectionIds,
        expiresAt,
        issuedByTokenId: caller.tokenId ?? null,
      }),
    );
    return parseOutput(ZCreatedApiToken, { ...toApiTokenDto(row), token }, "API token");
  },

  /**
   * Revoking a token ends its holder's access (and sessions) on every connection its grants reach, not only
   * those of a scoped caller: it needs an unscoped token. The tokens it issued are revoked with it.
   */
  async revokeToken(db: TDb, caller: TCaller, rawInput: unknown): Promise<TApiTokenDto> {
    const input = parseInput(ZTokenRef, rawInput);
    requireUnscoped(caller, "Revoking a token shuts its holder out of connections beyond this token's");
    const row = await mapDbErrors(() => revokeApiToken(db, caller.identity, input.tokenId));
    return parseOutput(ZApiTokenDto, toApiTokenDto(row), "API token");
  },

  async grant(db: TDb, caller: TCaller, rawInput: unknown): Promise<{ id: string }> {
    const input = parseInput(ZGrantInput, rawInput);
    requireInScope(caller, [input.connectionId]);
    const grant = await mapDbErrors(() =>
      grantAccess(db, caller.identity, {
        grantee: input.identityId !== undefined ? { identityId: input.identityId } : { group: input.group! },
        connectionId: input.connectionId,
        reason: input.reason,
        expiresAt: input.expiresAt ? new Date(input.expiresAt) : null,
      }),
    );
    return parseOutput(ZGrantDto, grant, "Grant");
  },

  /** Who may reach which connection now, directly or through a group. */
  async activeGrants(db: TDb, caller: TCaller): Promise<TActiveGrantDto[]> {
    // A token scoped to connections sees only their grants.
    const grants = (await listActiveGrants(db)).filter((g) => coversConnection(caller, g.connection.id));
    return parseOutput(
      ZActiveGrantList,
      grants.map((g) => ({
        ...g,
        startsAt: g.startsAt.toISOString(),
        expiresAt: g.expiresAt?.toISOString() ?? null,
      })),
      "Grants",
    );
  },

  async revokeGrant(db: TDb, caller: TCaller, rawInput: unknown): Promise<{ revoked: true }> {
    const input = parseInput(ZGrantRef, rawInput);
    // A token scoped to connections revokes only their grants.
    await mapDbErrors(() =>
      revokeGrant(db, caller.identity, input.grantId, (connectionId) =>
        requireInScope(caller, [connectionId]),
      ),
    );
    return { revoked: true };
  },
};

/** Ids are stored in lower case; input may spell a uuid in upper case. */
function isSelf(caller: TCaller, identityId: string): boolean {
  return caller.identity.id.toLowerCase() === identityId.toLowerCase();
}

function requireSelfOrAdmin(caller: TCaller, identityId: string): void {
  if (caller.identity.id !== identityId && !caller.identity.roles.includes("admin"))
    throw new AppError("FORBIDDEN", "Only admins see other identities' tokens");
}
