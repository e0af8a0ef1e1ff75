import { createTRPCRouter, roleProcedure } from "../trpc.ts";
import { ZApprovalDto, ZApprovalList, ZApprovalListInput, ZApprovalRef, ZDecideInput } from "./schemas.ts";
import { approvalService } from "./service.ts";

// Approvers and admins decide; auditors read along.
const approvalReader = roleProcedure("approver", "admin", "auditor");
const approver = roleProcedure("approver", "admin");

export const approvalsRouter = createTRPCRouter({
  list: approvalReader
    .input(ZApprovalListInput)
    .output(ZApprovalList)
    .query(({ ctx, input }) => approvalService.list(ctx.db, input)),
  get: approvalReader
    .input(ZApprovalRef)
    .output(ZApprovalDto)
    .query(({ ctx, input }) => approvalService.get(ctx.db, input)),
  approve: approver
    .input(ZDecideInput)
    .output(ZApprovalDto)
    .mutation(({ ctx, input }) => approvalService.approve(ctx.db, ctx.caller, input)),
  deny: approver
    .input(ZDecideInput)
    .output(ZApprovalDto)
    .mutation(({ ctx, input }) => approvalService.deny(ctx.db, ctx.caller, input)),
});
