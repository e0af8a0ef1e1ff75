import { createTRPCRouter, roleProcedure } from "../trpc.ts";
import {
  ZAuditActivity,
  ZAuditActivityInput,
  ZAuditChainVerification,
  ZAuditChainVerifyInput,
  ZAuditEventListInput,
} from "./schemas.ts";
import { auditService } from "./service.ts";

// The audit trail is evidence: readable by auditors and admins only.
const auditReader = roleProcedure("auditor", "admin");

export const auditRouter = createTRPCRouter({
  list: auditReader
    .input(ZAuditEventListInput)
    .query(({ ctx, input }) => auditService.list(ctx.db, input, ctx.caller)),
  activity: auditReader
    .input(ZAuditActivityInput)
    .output(ZAuditActivity)
    .query(({ ctx, input }) => auditService.activity(ctx.db, input, ctx.caller)),
  verifyChain: auditReader
    .input(ZAuditChainVerifyInput.optional())
    .output(ZAuditChainVerification)
    .query(({ ctx, input }) => auditService.verifyChain(ctx.db, ctx.caller, input ?? {})),
});
