// @portcullis/api: the control plane's tRPC API, its domain services, and the REST edge helpers.
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "./root.ts";

export { appRouter, type AppRouter } from "./root.ts";
export { createTRPCContext, createCallerFactory, type TCreateContextOptions } from "./trpc.ts";
export { handleTrpcRequest, TRPC_ENDPOINT } from "./trpc-http.ts";
export { AppError, httpStatusOf, isAppError, type TAppErrorCode } from "./errors.ts";
export { resolveCaller, requireRoles, type TCaller, type TRole, type TSessionLike } from "./auth.ts";
export { handleRest, jsonResponse, restErrorResponse, type TRestErrorBody } from "./rest.ts";
export { checkHealth, type THealth } from "./health/service.ts";
export { auditService, toAuditEventDto } from "./audit/service.ts";
export { policyService } from "./policy/service.ts";
export * from "./policy/schemas.ts";
export { exportAuditEventsRest, listAuditEventsRest, verifyAuditChainRest } from "./audit/rest.ts";
export * from "./audit/schemas.ts";

export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

/** The WebSocket path the agent gateway (./agent-gateway) serves, for the server that routes upgrades. */
export { AGENT_LINK_PATH } from "@portcullis/agent-protocol";
export { identitiesRest } from "./identities/rest.ts";
export * from "./identities/schemas.ts";
export { openApiDocument } from "./openapi.ts";
export { approvalsRest } from "./approvals/rest.ts";
export { auditStreamsRest } from "./audit-streams/rest.ts";
export { scimRest } from "./scim/rest.ts";
export { sessionsRest } from "./sessions/rest.ts";
