// Short-lived database credentials: the control plane signs `pcdb_` tokens with an Ed25519 key whose public
// half reaches agents in their snapshot, so an agent verifies them offline. Keys rotate weekly; the previous
// key stays valid until tokens signed with it have expired. Revoking the grant behind a credential reaches
// agents with the next snapshot (within a second) and ends its sessions.
import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import type { TDb } from "../client.ts";
import { decryptSecret, encryptSecret } from "../secrets.ts";
import { appendAuditEventsIn, controlPlaneEvent } from "./audit-events.ts";
import { activeGrantsOf, NotFoundError } from "./identities.ts";
import { bumpPolicyRevision } from "./policy.ts";

const KEYS_SETTING = "db_credential_keys";
const KEY_LOCK = 72_011_975;
export const KEY_ROTATION_MS = 7 * 24 * 3600_000;
/** Longest a credential lives; the verifying key must outlive it after rotation. */
export const MAX_CREDENTIAL_TTL_MS = 12 * 3600_000;

interface TStoredKey {
  kid: string;
  publicKey: string;
  privateKeyCiphertext: string;
  createdAt: string;
}

function storedKeys(value: unknown): TStoredKey[] {
  const keys = (value as { keys?: TStoredKey[] } | null)?.keys;
  return Array.isArray(keys) ? keys : [];
}

/** Public keys for agents, newest first. */
export async function credentialPublicKeys(db: TDb): Promise<{ kid: string; publicKey: string }[]> {
  const row = await db.setting.findUnique({ where: { key: KEYS_SETTING }, select: { value: true } });
  return storedKeys(row?.value).map(({ kid, publicKey }) => ({ kid, publicKey }));
}

/** The current signing key, creating or rotating it when due (agents then get the new public key). */
async function signingKey(
  db: TDb,
  secretKey: Buffer,
  now: Date,
): Promise<{ kid: string; privateKeyPem: string }> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${KEY_LOCK}::bigint)`;
    const row = await tx.setting.findUnique({ where: { key: KEYS_SETTING }, select: { value: true } });
    let keys = storedKeys(row?.value);
    const newest = keys[0];
    if (!newest || now.getTime() - Date.parse(newest.createdAt) > KEY_ROTATION_MS) {
      const { publicKey, privateKey } = generateKeyPairSync("ed25519");
      const created: TStoredKey = {
        kid: randomBytes(6).toString("hex"),
        publicKey: publicKey.export({ type: "spki", format: "der" }).toString("base64"),
        privateKeyCiphertext: encryptSecret(
          privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
          secretKey,
        ),
        createdAt: now.toISOString(),
      };
      // Two keys: the new one, and the previous one until credentials it signed have expired.
      keys = [created, ...keys].slice(0, 2);
      await tx.setting.upsert({
        where: { key: KEYS_SETTING },
        create: { key: KEYS_SETTING, value: { keys: keys as unknown as object[] } },
        update: { value: { keys: keys as unknown as object[] } },
      });
      await bumpPolicyRevision(tx);
    }
    const current = keys[0]!;
    return { kid: current.kid, privateKeyPem: decryptSecret(current.privateKeyCiphertext, secretKey) };
  });
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

/**
 * Issues a credential for an identity's active grant to a connection. The agent refuses it once it expires,
 * or as soon as the grant is gone from its snapshot.
 */
export async function issueDatabaseCredential(
  db: TDb,
  secretKey: Buffer,
  input: { identity: { id: string; name: string; kind: string }; connectionId: string; ttlMs: number },
  now = new Date(),
): Promise<{ token: string; expiresAt: Date; connection: { name: string; environment: string } }> {
  const grant = await db.grant.findFirst({
    // Its own grant or its group's; the longest-lasting decides.
    where: { ...activeGrantsOf(input.identity.id, now), connectionId: input.connectionId },
    orderBy: { expiresAt: { sort: "desc", nulls: "first" } },
    select: { expiresAt: true, connection: { select: { name: true, environment: true } } },
  });
  if (!grant)
    throw new NotFoundError(`an active grant of ${input.identity.name} to connection ${input.connectionId}`);
  const key = await signingKey(db, secretKey, now);
  const ttl = Math.min(input.ttlMs, MAX_CREDENTIAL_TTL_MS);
  // Never outlive the grant it stands on.
  const expiresAt = new Date(
    Math.min(now.getTime() + ttl, grant.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY),
  );
  const payload = JSON.stringify({
    kid: key.kid,
    sub: input.identity.id,
    cid: input.connectionId,
    exp: Math.floor(expiresAt.getTime() / 1000),
    jti: randomBytes(9).toString("base64url"),
  });
  const signature = sign(null, Buffer.from(payload), createPrivateKey(key.privateKeyPem));
  const token = `pcdb_${b64url(payload)}.${b64url(signature)}`;
  await db.$transaction((tx) =>
    appendAuditEventsIn(tx, [
      controlPlaneEvent({
        type: "grant",
        actor: input.identity,
        decision: "allowed",
        message: `issued a database credential valid until ${expiresAt.toISOString()}`,
        connection: { id: input.connectionId, ...grant.connection },
      }),
    ]),
  );
  return { token, expiresAt, connection: grant.connection };
}
