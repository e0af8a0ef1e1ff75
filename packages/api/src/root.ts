import { auditRouter } from "./audit/router.ts";
import { policyRouter } from "./policy/router.ts";
import { createTRPCRouter } from "./trpc.ts";

export const appRouter = createTRPCRouter({
  audit: auditRouter,
  policy: policyRouter,
});

export type AppRouter = typeof appRouter;
