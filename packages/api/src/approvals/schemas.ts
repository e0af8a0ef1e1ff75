import { z } from "zod";

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
    reason: z.string().trim().max(1000).default(""),
  })
  .strict();
