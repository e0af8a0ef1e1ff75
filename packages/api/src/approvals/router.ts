import { createTRPCRouter, protectedProcedure, roleProcedure } from "../trpc.ts";
import { accessRequestService } from "./access-service.ts";
import {
  ZAccessRequestDto,
  ZAccessRequestList,
  ZAccessRequestListInput,
  ZApprovalDto,
  ZApprovalList,
  ZApprovalListInput,
  ZApprovalRef,
  ZCreateAccessRequestInput,
  ZDecideInput,
} from "./schemas.ts";
import { approvalService } from "./service.ts";

// Approvers and admins decide; auditors read along.
const approvalReader = roleProcedure("approver", "admin", "auditor");
const approver = roleProcedure("approver", "admin");

export const approvalsRouter = createTRPCRouter({
  list: approvalReader
    .input(ZApprovalListInput)
    .output(ZApprovalList)
    .query(({ ctx, input }) => approvalService.list(ctx.db, ctx.caller, input)),
  get: approvalReader
    .input(ZApprovalRef)
    .output(ZApprovalDto)
    .query(({ ctx, input }) => approvalService.get(ctx.db, ctx.caller, input)),
  approve: approver
    .input(ZDecideInput)
    .output(ZApprovalDto)
    .mutation(({ ctx, input }) => approvalService.approve(ctx.db, ctx.caller, input)),
  deny: approver
    .input(ZDecideInput)
    .output(ZApprovalDto)
    .mutation(({ ctx, input }) => approvalService.deny(ctx.db, ctx.caller, input)),
  // Just-in-time access: anyone signed in asks; approvers decide.
  requestAccess: protectedProcedure
    .input(ZCreateAccessRequestInput)
    .output(ZAccessRequestDto)
    .mutation(({ ctx, input }) => accessRequestService.create(ctx.db, ctx.caller, input)),
  accessRequests: approvalReader
    .input(ZAccessRequestListInput)
    .output(ZAccessRequestList)
    .query(({ ctx, input }) => accessRequestService.list(ctx.db, ctx.caller, input)),
  approveAccess: approver
    .input(ZDecideInput)
    .output(ZAccessRequestDto)
    .mutation(({ ctx, input }) => accessRequestService.decide(ctx.db, ctx.caller, input, true)),
  denyAccess: approver
    .input(ZDecideInput)
    .output(ZAccessRequestDto)
    .mutation(({ ctx, input }) => accessRequestService.decide(ctx.db, ctx.caller, input, false)),
});
