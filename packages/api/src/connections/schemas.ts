import { X509Certificate } from "node:crypto";
import { MAX_CA_BUNDLE_CHARS } from "@portcullis/agent-protocol";
import { z } from "zod";
import { ZText } from "../lib/text.ts";

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * One or more PEM certificates, each of which must parse. A private key pasted by mistake is refused
 * outright: the field is stored and shown as public data.
 */
const ZCaBundle = ZText.trim()
  .max(MAX_CA_BUNDLE_CHARS)
  .superRefine((pem, ctx) => {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
      ctx.addIssue({
        code: "custom",
        message: "this is a private key, not a CA certificate: paste the CA's certificate (PEM) instead",
      });
      return;
    }
    const blocks = pem.match(PEM_CERTIFICATE) ?? [];
    if (blocks.length === 0) {
      ctx.addIssue({
        code: "custom",
        message: "expected one or more PEM certificates (-----BEGIN CERTIFICATE-----)",
      });
      return;
    }
    blocks.forEach((block, i) => {
      try {
        new X509Certificate(block);
      } catch {
        ctx.addIssue({ code: "custom", message: `certificate ${i + 1} of the CA bundle cannot be read` });
      }
    });
  });

const ZTarget = {
  agentId: z.uuid(),
  host: ZText.trim().min(1).max(255),
  port: z.number().int().min(1).max(65_535),
  database: ZText.trim().min(1).max(63),
  username: ZText.trim().min(1).max(63),
  /** Sent to the agent that will use it; stored encrypted; never sent back to a browser. */
  password: ZText.max(1000).nullable(),
  tlsMode: z.enum(["disable", "require", "verify-ca", "verify-full"]).default("disable"),
  /** The CA that signs the database's certificate, for verify-ca / verify-full; null: the agent's system store. */
  tlsCa: ZCaBundle.nullable().default(null),
};

/** A CA bundle means the certificate is verified: with disable or require it would silently do nothing. */
function caNeedsVerification(target: { tlsMode: string; tlsCa: string | null }, ctx: z.RefinementCtx): void {
  if (target.tlsCa !== null && !target.tlsMode.startsWith("verify"))
    ctx.addIssue({
      code: "custom",
      path: ["tlsCa"],
      message: "a CA certificate is only used with tlsMode verify-ca or verify-full",
    });
}

export const ZProbeConnectionInput = z
  .object({ ...ZTarget, scan: z.boolean().default(false) })
  .strict()
  .superRefine(caNeedsVerification);

export const ZProbeConnectionResult = z.object({
  ok: z.boolean(),
  error: z.string().nullable(),
  serverVersion: z.string().nullable(),
  tablesScanned: z.number().int(),
  suggestions: z.array(
    z.object({
      table: z.string(),
      column: z.string(),
      category: z.string(),
      confidence: z.number(),
      evidence: z.array(z.string()),
      name: z.string(),
      columnPattern: z.string(),
      strategy: z.enum(["redact", "partial", "hash", "null", "format_preserving"]),
    }),
  ),
});
export type TProbeConnectionResult = z.infer<typeof ZProbeConnectionResult>;

export const ZCreateConnectionInput = z
  .object({
    ...ZTarget,
    /** What clients pass as the database name. */
    name: ZText.trim()
      .min(1)
      .max(63)
      .regex(/^[a-z0-9][a-z0-9_-]*$/, "lower-case letters, digits, '_' and '-'"),
    environment: ZText.trim().min(1).max(50),
    /** Start from the production baseline guardrails (recommended for production and staging). */
    applyBaseline: z.boolean(),
    maskingRules: z
      .array(
        z.object({
          name: ZText.trim().min(1).max(200),
          columnPattern: ZText.trim().regex(/^([\w$*]+\.){1,2}[\w$*]+$/),
          strategy: z.enum(["redact", "partial", "hash", "null", "format_preserving"]),
        }),
      )
      .max(500)
      .default([]),
    grantIdentityIds: z.array(z.uuid()).max(500).default([]),
    /** Groups whose members may connect, as the identity provider names them. */
    grantGroups: z.array(ZText.trim().min(1).max(200)).max(50).default([]),
  })
  .strict()
  .superRefine(caNeedsVerification);

export const ZCreatedConnection = z.object({ id: z.string(), name: z.string(), environment: z.string() });

export const ZMyConnection = z.object({
  id: z.string(),
  name: z.string(),
  environment: z.string(),
  /** When the caller's access ends; null: no end set. */
  accessUntil: z.string().nullable(),
  /** Whether the agent serving it is connected now (connection strings need its address). */
  agentOnline: z.boolean(),
});
export const ZMyConnections = z.array(ZMyConnection);

export const ZCredentialInput = z
  .object({
    connectionId: z.uuid(),
    /** How long the credential admits new sessions (and keeps them open): 1 hour unless asked. */
    ttlMinutes: z
      .number()
      .int()
      .min(5)
      .max(12 * 60)
      .default(60),
  })
  .strict();

export const ZIssuedCredential = z.object({
  connection: z.string(),
  expiresAt: z.string(),
  /** For drivers: the whole URL. */
  url: z.string(),
  /** The same, as a command line. */
  psql: z.string(),
});
