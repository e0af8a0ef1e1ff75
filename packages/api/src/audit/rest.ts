// GET /api/v1/audit-events: flat query parameters onto the same service the dashboard uses.
import type { TDb } from "@portcullis/db";
import { requireRoles, resolveCaller } from "../auth.ts";
import { searchParamsToObject } from "../rest.ts";
import type { TAuditEventPage } from "./schemas.ts";
import { auditService } from "./service.ts";

export async function listAuditEventsRest(db: TDb, request: Request): Promise<TAuditEventPage> {
  // The public API is for automation: bearer tokens only, never the browser's cookie.
  requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), ["auditor", "admin"]);
  const { limit, cursor, ...filter } = searchParamsToObject(new URL(request.url).searchParams);
  // The service validates; the query string's loose shape is its problem to reject with a 400.
  return auditService.list(db, { filter, limit, cursor } as Parameters<typeof auditService.list>[1]);
}
