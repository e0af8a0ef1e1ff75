import { z } from "zod";
import { adminProcedure, createTRPCRouter } from "../trpc.ts";
import {
  ZAuditStreamDto,
  ZAuditStreamIdInput,
  ZAuditStreamList,
  ZCreateAuditStreamInput,
  ZSetAuditStreamEnabledInput,
} from "./schemas.ts";
import { auditStreamService } from "./service.ts";

export const auditStreamsRouter = createTRPCRouter({
  list: adminProcedure
    .output(ZAuditStreamList)
    .query(({ ctx }) => auditStreamService.list(ctx.db, ctx.caller)),
  create: adminProcedure
    .input(ZCreateAuditStreamInput)
    .output(ZAuditStreamDto)
    .mutation(({ ctx, input }) =>
      auditStreamService.create(ctx.db, ctx.caller, ctx.secretKey, input, {
        allowedHosts: ctx.auditStreamHosts,
      }),
    ),
  setEnabled: adminProcedure
    .input(ZSetAuditStreamEnabledInput)
    .output(ZAuditStreamDto)
    .mutation(({ ctx, input }) => auditStreamService.setEnabled(ctx.db, ctx.caller, input)),
  remove: adminProcedure
    .input(ZAuditStreamIdInput)
    .output(z.void())
    .mutation(({ ctx, input }) => auditStreamService.remove(ctx.db, ctx.caller, input)),
});
