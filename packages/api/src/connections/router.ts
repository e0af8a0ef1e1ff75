import { adminProcedure, createTRPCRouter } from "../trpc.ts";
import {
  ZCreateConnectionInput,
  ZCreatedConnection,
  ZProbeConnectionInput,
  ZProbeConnectionResult,
} from "./schemas.ts";
import { connectionService } from "./service.ts";

// Onboarding is an admin's job: it decides where data lives and who reaches it.
export const connectionsRouter = createTRPCRouter({
  probe: adminProcedure
    .input(ZProbeConnectionInput)
    .output(ZProbeConnectionResult)
    .mutation(({ input }) => connectionService.probe(input)),
  create: adminProcedure
    .input(ZCreateConnectionInput)
    .output(ZCreatedConnection)
    .mutation(({ ctx, input }) => connectionService.create(ctx.db, ctx.caller, ctx.secretKey, input)),
});
