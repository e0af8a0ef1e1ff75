import { createTRPCRouter, roleProcedure } from "../trpc.ts";
import { ZPolicyPreviewInput } from "./schemas.ts";
import { policyService } from "./service.ts";

// Previewing reveals which rules exist and what they match: for the people who write or review them.
const policyReader = roleProcedure("admin", "approver", "auditor");

export const policyRouter = createTRPCRouter({
  preview: policyReader
    .input(ZPolicyPreviewInput)
    .query(({ ctx, input }) => policyService.preview(ctx.db, input)),
});
