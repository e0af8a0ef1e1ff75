// How secrets are kept at rest. Tokens are random and long, so a fast hash (sha256) is enough and lets us
// look them up by hash; passwords are chosen by people, so they get scrypt with a per-password salt.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  randomBytes,
  scrypt as scryptCallback,
  timingSafeEqual,
} from "node:crypto";
import { promisify } from "node:util";

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
) => Promise<Buffer>;

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** A new secret token: a recognisable prefix plus 32 random bytes, base64url. */
export function generateToken(prefix: "pcat" | "pcag" | "pcen" | "pcdb"): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

export function tokenDisplayPrefix(token: string): string {
  return token.slice(0, 12);
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32);
  return `scrypt$${salt.toString("base64")}$${key.toString("base64")}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, saltB64, keyB64] = stored.split("$");
  if (scheme !== "scrypt" || !saltB64 || !keyB64) return false;
  const expected = Buffer.from(keyB64, "base64");
  const actual = await scrypt(password, Buffer.from(saltB64, "base64"), expected.length);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Upstream database secrets at rest: AES-256-GCM under a 32-byte key from the control plane's environment.
 * Format: v1.<iv>.<tag>.<ciphertext>, base64url parts.
 */
export function encryptSecret(plaintext: string, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [
    "v1",
    iv.toString("base64url"),
    cipher.getAuthTag().toString("base64url"),
    body.toString("base64url"),
  ].join(".");
}

export function decryptSecret(ciphertext: string, key: Buffer): string {
  const [version, iv, tag, body] = ciphertext.split(".");
  if (version !== "v1" || !iv || !tag || body === undefined) throw new Error("Unrecognised secret format");
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString("utf8");
}

/** Derives the 32-byte key from the configured secret (any length), so operators can paste any random string. */
export function deriveSecretKey(secret: string): Buffer {
  return createHash("sha256").update(`portcullis-secrets:${secret}`).digest();
}
