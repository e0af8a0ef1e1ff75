import { z } from "zod";
import { ZText } from "../lib/text.ts";

export const ZAuditStreamFormat = z.enum(["jsonl", "ocsf"]);

export const ZCreateAuditStreamInput = z.object({
  // Sent as the X-Portcullis-Stream header: ASCII only.
  name: ZText.trim()
    .min(1)
    .max(60)
    .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, "letters, digits, spaces, '.', '_' and '-'"),
  url: z
    .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
    .max(2000)
    // fetch refuses them, and the error would carry the password: use the Authorization header.
    .refine((url) => !new URL(url).username && !new URL(url).password, {
      message: "must not contain a user name or password; give an Authorization header instead",
    }),
  format: ZAuditStreamFormat,
  /** Only events of these environments; empty for all. */
  environments: z.array(ZText.trim().min(1).max(50)).max(20).default([]),
  /** Receivers check `X-Portcullis-Signature` with it, as for approval webhooks. */
  signingSecret: ZText.min(16).max(200).optional(),
  /** Sent as the Authorization header (e.g. `Splunk <token>`, `Bearer <token>`). Printable ASCII only. */
  authorization: ZText.max(2000)
    .regex(/^[\x20-\x7e]+$/, "must be printable ASCII on one line")
    .optional(),
  startFrom: z.enum(["now", "beginning"]).default("now"),
});
export type TCreateAuditStreamInput = z.input<typeof ZCreateAuditStreamInput>;

export const ZAuditStreamIdInput = z.object({ id: z.uuid() });
export const ZSetAuditStreamEnabledInput = z.object({ id: z.uuid(), enabled: z.boolean() });

export const ZAuditStreamDto = z.object({
  id: z.string(),
  name: z.string(),
  /** Origin and path: a query string (which may hold the collector's key) is not read back. */
  url: z.string(),
  urlQueryHidden: z.boolean(),
  format: ZAuditStreamFormat,
  environments: z.array(z.string()),
  enabled: z.boolean(),
  signed: z.boolean(),
  hasAuthorization: z.boolean(),
  status: z.enum(["delivering", "failing", "disabled"]),
  deliveredCount: z.number().int(),
  /** Events waiting to be sent; `pendingAtLeast` when there are more than were counted. */
  pending: z.number().int(),
  pendingAtLeast: z.boolean(),
  lastDeliveredAt: z.iso.datetime().nullable(),
  lastError: z.string().nullable(),
  lastErrorAt: z.iso.datetime().nullable(),
  failures: z.number().int(),
  nextAttemptAt: z.iso.datetime(),
  createdAt: z.iso.datetime(),
});
export type TAuditStreamDto = z.infer<typeof ZAuditStreamDto>;
export const ZAuditStreamList = z.array(ZAuditStreamDto);
