import { adminProcedure, createTRPCRouter, roleProcedure } from "../trpc.ts";
import { ZAgentList, ZIssuedEnrollment, ZIssueEnrollmentInput } from "./schemas.ts";
import { agentService } from "./service.ts";

export const agentsRouter = createTRPCRouter({
  list: roleProcedure("admin", "auditor")
    .output(ZAgentList)
    .query(({ ctx }) => agentService.list(ctx.db, ctx.caller)),
  issueEnrollment: adminProcedure
    .input(ZIssueEnrollmentInput)
    .output(ZIssuedEnrollment)
    .mutation(({ ctx, input }) => agentService.issueEnrollment(ctx.db, ctx.caller, input)),
});
