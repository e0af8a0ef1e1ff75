// @portcullis/db: the only package that touches Prisma. Everything else goes through these functions.
export { createDb, getSharedDb, type TDb, type TCreateDbOptions } from "./client.ts";
export { canonicalJson, chainHash, GENESIS_HASH, type TChainedFields } from "./audit-chain.ts";
export * from "./secrets.ts";
export * from "./repositories/audit-events.ts";
export * from "./repositories/access.ts";
export * from "./repositories/agents.ts";
export * from "./repositories/policy.ts";
export type { Prisma } from "./generated/prisma/client.ts";
export * from "./repositories/policy-rules.ts";
export * from "./repositories/identities.ts";
export * from "./repositories/sso.ts";
export * from "./repositories/connections.ts";
export * from "./repositories/db-credentials.ts";
export * from "./repositories/approvals.ts";
export * from "./repositories/access-requests.ts";
export * from "./signals.ts";
export * from "./repositories/audit-streams.ts";
export * from "./repositories/audit-activity.ts";
