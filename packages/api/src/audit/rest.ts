// GET /api/v1/audit-events: flat query parameters onto the same service the dashboard uses.
import type { TDb } from "@portcullis/db";
import { z } from "zod";
import { requireRoles, resolveCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { searchParamsToObject } from "../rest.ts";
import { ZAuditEventQuery, type TAuditChainVerification, type TAuditEventPage } from "./schemas.ts";
import { auditService } from "./service.ts";

export async function listAuditEventsRest(db: TDb, request: Request): Promise<TAuditEventPage> {
  // The public API is for automation: bearer tokens only, never the browser's cookie.
  const caller = requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), [
    "auditor",
    "admin",
  ]);
  const query = ZAuditEventQuery.safeParse(searchParamsToObject(new URL(request.url).searchParams));
  if (!query.success) throw new AppError("BAD_REQUEST", z.prettifyError(query.error), { cause: query.error });
  const { limit, cursor, ...filter } = query.data;
  return auditService.list(db, { filter, limit, cursor }, caller);
}

/** GET /api/v1/audit-events/verify: recomputes the hash chain and reports the first broken link. */
export async function verifyAuditChainRest(db: TDb, request: Request): Promise<TAuditChainVerification> {
  const caller = requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), [
    "auditor",
    "admin",
  ]);
  // The chain spans every connection: a token scoped to some cannot vouch for (or see) the rest.
  if (caller.connectionIds.length > 0)
    throw new AppError(
      "FORBIDDEN",
      "Verifying the whole audit chain needs a token not scoped to connections",
    );
  return auditService.verifyChain(db);
}
