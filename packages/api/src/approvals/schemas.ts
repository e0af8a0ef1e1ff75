import { z } from "zod";
import { ZText } from "../lib/text.ts";

export const ZApprovalStatus = z.enum(["pending", "approved", "denied", "expired", "cancelled"]);

export const ZApprovalDto = z.object({
  id: z.string(),
  status: ZApprovalStatus,
  statement: z.string(),
  statementClass: z.string(),
  tables: z.array(z.string()),
  risk: z.string(),
  ruleName: z.string().nullable(),
  /** Why the rule asks for an approval. */
  reason: z.string(),
  requester: z.object({
    name: z.string(),
    displayName: z.string(),
    kind: z.enum(["human", "service", "ai_agent"]),
  }),
  connection: z.object({ id: z.string(), name: z.string(), environment: z.string() }),
  requiredApprovals: z.number().int(),
  /** Only members of this group may decide (null: any approver). */
  requiredGroup: z.string().nullable(),
  decisions: z.array(
    z.object({ approver: z.string(), decision: z.string(), reason: z.string(), at: z.string() }),
  ),
  createdAt: z.string(),
  expiresAt: z.string(),
  decidedAt: z.string().nullable(),
});
export type TApprovalDto = z.infer<typeof ZApprovalDto>;

export const ZApprovalList = z.object({ items: z.array(ZApprovalDto) });

export const ZApprovalListInput = z
  .object({
    status: ZApprovalStatus.optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

export const ZApprovalRef = z.object({ id: z.uuid() }).strict();

export const ZDecideInput = z
  .object({
    id: z.uuid(),
    /** Shown to the requester (a denial's reason reaches their client's error message). */
    reason: ZText.trim().max(1000).default(""),
  })
  .strict();

// ---- just-in-time access --------------------------------------------------------------------------------

export const ZCreateAccessRequestInput = z
  .object({
    connectionId: z.uuid(),
    /** How long the access lasts once approved: from 5 seconds (break-glass drills, tests) to 7 days. */
    durationSeconds: z
      .number()
      .int()
      .min(5)
      .max(7 * 24 * 3600),
    reason: ZText.trim().min(3).max(1000),
  })
  .strict();

export const ZAccessRequestDto = z.object({
  id: z.string(),
  status: z.enum(["pending", "approved", "denied", "expired", "cancelled"]),
  reason: z.string(),
  durationSeconds: z.number().int(),
  requester: z.object({
    name: z.string(),
    displayName: z.string(),
    kind: z.enum(["human", "service", "ai_agent"]),
  }),
  connection: z.object({ id: z.string(), name: z.string(), environment: z.string() }),
  decisionReason: z.string().nullable(),
  decidedAt: z.string().nullable(),
  createdAt: z.string(),
  /** The grant an approval created, and when it ends. */
  grant: z.object({ id: z.string(), startsAt: z.string(), expiresAt: z.string().nullable() }).nullable(),
});
export type TAccessRequestDto = z.infer<typeof ZAccessRequestDto>;
export const ZAccessRequestList = z.object({ items: z.array(ZAccessRequestDto) });
export const ZAccessRequestListInput = z
  .object({
    status: z.enum(["pending", "approved", "denied"]).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();
