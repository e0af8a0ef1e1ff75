import { auditRouter } from "./audit/router.ts";
import { createTRPCRouter } from "./trpc.ts";

export const appRouter = createTRPCRouter({
  audit: auditRouter,
});

export type AppRouter = typeof appRouter;
