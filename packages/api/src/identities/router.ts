import { adminProcedure, createTRPCRouter, protectedProcedure, roleProcedure } from "../trpc.ts";
import {
  ZActiveGrantList,
  ZApiTokenDto,
  ZCreateApiTokenInput,
  ZCreatedApiToken,
  ZCreateIdentityInput,
  ZGrantDto,
  ZGrantInput,
  ZGrantRef,
  ZIdentityDto,
  ZIdentityList,
  ZIdentityRef,
  ZSetIdentityActiveInput,
  ZTokenRef,
} from "./schemas.ts";
import { identityService } from "./service.ts";

export const identitiesRouter = createTRPCRouter({
  list: roleProcedure("admin", "auditor")
    .output(ZIdentityList)
    .query(({ ctx }) => identityService.list(ctx.db, ctx.caller)),
  create: adminProcedure
    .input(ZCreateIdentityInput)
    .output(ZIdentityDto)
    .mutation(({ ctx, input }) => identityService.create(ctx.db, ctx.caller, input)),
  setActive: adminProcedure
    .input(ZSetIdentityActiveInput)
    .output(ZIdentityDto)
    .mutation(({ ctx, input }) => identityService.setActive(ctx.db, ctx.caller, input)),
  // Anyone signed in sees their own tokens; admins see everyone's.
  tokens: protectedProcedure
    .input(ZIdentityRef)
    .output(ZApiTokenDto.array())
    .query(({ ctx, input }) => identityService.tokens(ctx.db, ctx.caller, input)),
  createToken: adminProcedure
    .input(ZCreateApiTokenInput)
    .output(ZCreatedApiToken)
    .mutation(({ ctx, input }) => identityService.createToken(ctx.db, ctx.caller, input)),
  revokeToken: adminProcedure
    .input(ZTokenRef)
    .output(ZApiTokenDto)
    .mutation(({ ctx, input }) => identityService.revokeToken(ctx.db, ctx.caller, input)),
  // Who may reach what is part of the evidence: auditors read it too.
  grants: roleProcedure("admin", "auditor")
    .output(ZActiveGrantList)
    .query(({ ctx }) => identityService.activeGrants(ctx.db, ctx.caller)),
  revokeGrant: adminProcedure
    .input(ZGrantRef)
    .mutation(({ ctx, input }) => identityService.revokeGrant(ctx.db, ctx.caller, input)),
  grant: adminProcedure
    .input(ZGrantInput)
    .output(ZGrantDto)
    .mutation(({ ctx, input }) => identityService.grant(ctx.db, ctx.caller, input)),
});
