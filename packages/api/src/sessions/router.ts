import { adminProcedure, createTRPCRouter, roleProcedure } from "../trpc.ts";
import { ZEndSessionInput, ZLiveSessionDto, ZLiveSessionList } from "./schemas.ts";
import { sessionService } from "./service.ts";

export const sessionsRouter = createTRPCRouter({
  live: roleProcedure("admin", "auditor")
    .output(ZLiveSessionList)
    .query(({ ctx }) => sessionService.listLive(ctx.db, ctx.caller)),
  end: adminProcedure
    .input(ZEndSessionInput)
    .output(ZLiveSessionDto)
    .mutation(({ ctx, input }) => sessionService.end(ctx.db, ctx.caller, input)),
});
