import { agentsRouter } from "./agents/router.ts";
import { approvalsRouter } from "./approvals/router.ts";
import { auditRouter } from "./audit/router.ts";
import { auditStreamsRouter } from "./audit-streams/router.ts";
import { connectionsRouter } from "./connections/router.ts";
import { identitiesRouter } from "./identities/router.ts";
import { policyRouter } from "./policy/router.ts";
import { sessionsRouter } from "./sessions/router.ts";
import { createTRPCRouter } from "./trpc.ts";

export const appRouter = createTRPCRouter({
  agents: agentsRouter,
  approvals: approvalsRouter,
  audit: auditRouter,
  auditStreams: auditStreamsRouter,
  connections: connectionsRouter,
  identities: identitiesRouter,
  policy: policyRouter,
  sessions: sessionsRouter,
});

export type AppRouter = typeof appRouter;
