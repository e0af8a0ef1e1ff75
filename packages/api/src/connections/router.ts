import { adminProcedure, createTRPCRouter, protectedProcedure } from "../trpc.ts";
import {
  ZCredentialInput,
  ZIssuedCredential,
  ZMyConnections,
  ZCreateConnectionInput,
  ZCreatedConnection,
  ZProbeConnectionInput,
  ZProbeConnectionResult,
} from "./schemas.ts";
import { ZConnectionList } from "../policy/schemas.ts";
import { policyRulesService } from "../policy/rules-service.ts";
import { connectionService } from "./service.ts";

// Onboarding is an admin's job: it decides where data lives and who reaches it.
export const connectionsRouter = createTRPCRouter({
  probe: adminProcedure
    .input(ZProbeConnectionInput)
    .output(ZProbeConnectionResult)
    .mutation(({ ctx, input }) => connectionService.probe(ctx.caller, input)),
  // Anyone with a grant: their own connections and short-lived credentials for them.
  mine: protectedProcedure
    .output(ZMyConnections)
    .query(({ ctx }) => connectionService.mine(ctx.db, ctx.caller)),
  credential: protectedProcedure
    .input(ZCredentialInput)
    .output(ZIssuedCredential)
    .mutation(({ ctx, input }) => connectionService.credential(ctx.db, ctx.caller, ctx.secretKey, input)),
  // What anyone signed in may ask just-in-time access to: names and environments only.
  requestable: protectedProcedure
    .output(ZConnectionList)
    .query(({ ctx }) => policyRulesService.listConnections(ctx.db, ctx.caller)),
  create: adminProcedure
    .input(ZCreateConnectionInput)
    .output(ZCreatedConnection)
    .mutation(({ ctx, input }) => connectionService.create(ctx.db, ctx.caller, ctx.secretKey, input)),
});
