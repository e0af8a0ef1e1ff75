import { z } from "zod";
import { ZInstant } from "../lib/instant.ts";
import { ZText } from "../lib/text.ts";

const ZRole = z.enum(["admin", "approver", "member", "auditor"]);

export const ZIdentityDto = z.object({
  id: z.string(),
  name: z.string(),
  displayName: z.string(),
  kind: z.enum(["human", "service", "ai_agent"]),
  roles: z.array(ZRole),
  groups: z.array(z.string()),
  disabled: z.boolean(),
  scimManaged: z.boolean(),
  activeTokens: z.number().int(),
  createdAt: z.string(),
});
export type TIdentityDto = z.infer<typeof ZIdentityDto>;
export const ZIdentityList = z.array(ZIdentityDto);

// Lower case, as the store writes ids: comparisons with the caller's own id must not be fooled by case.
export const ZSetIdentityActiveInput = z.object({
  identityId: z.uuid().transform((id) => id.toLowerCase()),
  active: z.boolean(),
});

/** People arrive by signing in; services and AI agents are created for the tokens they connect with. */
export const ZCreateIdentityInput = z
  .object({
    name: ZText.trim()
      .min(1)
      .max(63)
      // It is the Postgres user name clients pass: keep it to what every driver puts in a URL unescaped.
      .regex(/^[a-z0-9][a-z0-9._@-]*$/, "lower-case letters, digits, '.', '_', '@' and '-'"),
    displayName: ZText.trim().min(1).max(200),
    kind: z.enum(["service", "ai_agent"]),
    roles: z.array(ZRole).max(4).default(["member"]),
  })
  .strict();

export const ZApiTokenDto = z.object({
  id: z.string(),
  identityId: z.string(),
  name: z.string(),
  prefix: z.string(),
  connectionIds: z.array(z.string()),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  createdAt: z.string(),
  status: z.enum(["active", "expired", "revoked"]),
  /** The API token it was issued with (null: from a dashboard session); revoking that one revokes this. */
  issuedByTokenId: z.string().nullable(),
});
export type TApiTokenDto = z.infer<typeof ZApiTokenDto>;

export const ZIdentityRef = z.object({ identityId: z.uuid() }).strict();

export const ZCreateApiTokenInput = z
  .object({
    identityId: z.uuid(),
    name: ZText.trim().min(1).max(100),
    /** Connections the token may reach; empty: every connection the identity is granted. */
    connectionIds: z.array(z.uuid()).max(100).default([]),
    /** Every token expires: 90 days unless asked otherwise, at most a year. */
    expiresInHours: z
      .number()
      .positive()
      .max(24 * 366)
      .default(24 * 90),
  })
  .strict();

export const ZCreatedApiToken = ZApiTokenDto.extend({
  /** The secret, shown once. */
  token: z.string(),
});

export const ZTokenRef = z.object({ tokenId: z.uuid() }).strict();

/** A grant that should outlive this is one without an end. */
export const GRANT_MAX_YEARS = 10;

export const ZGrantInput = z
  .object({
    /** The identity granted; or give `group`. */
    identityId: z.uuid().optional(),
    /** Every member of this group (as the identity provider names it, e.g. an OIDC groups claim value). */
    group: ZText.trim().min(1).max(200).optional(),
    connectionId: z.uuid(),
    reason: ZText.trim().max(500).default(""),
    /** Null: until revoked. Otherwise in the future, and within GRANT_MAX_YEARS. */
    expiresAt: ZInstant(
      { at: () => Date.now(), message: "must be in the future (or null for no end)" },
      {
        at: () => Date.now() + GRANT_MAX_YEARS * 366 * 86_400_000,
        message: `must be within ${GRANT_MAX_YEARS} years (or null for no end)`,
      },
    )
      .nullable()
      .default(null),
  })
  .strict()
  .refine((input) => (input.identityId === undefined) !== (input.group === undefined), {
    message: "Give either identityId or group, not both",
  });
export const ZGrantDto = z.object({ id: z.string() });

/** A grant in force: to one identity, or to a group (with how many members it has now). */
export const ZActiveGrantDto = z.object({
  id: z.string(),
  grantee: z.discriminatedUnion("type", [
    z.object({
      type: z.literal("identity"),
      id: z.string(),
      name: z.string(),
      kind: z.enum(["human", "service", "ai_agent"]),
    }),
    z.object({ type: z.literal("group"), id: z.string(), name: z.string(), members: z.number().int() }),
  ]),
  connection: z.object({ id: z.string(), name: z.string(), environment: z.string() }),
  reason: z.string(),
  grantedBy: z.string().nullable(),
  viaAccessRequest: z.boolean(),
  startsAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().nullable(),
});
export type TActiveGrantDto = z.infer<typeof ZActiveGrantDto>;
export const ZActiveGrantList = z.array(ZActiveGrantDto);

export const ZGrantRef = z.object({ grantId: z.uuid() }).strict();
