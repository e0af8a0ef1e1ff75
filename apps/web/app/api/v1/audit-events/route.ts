import { handleRest, listAuditEventsRest } from "@portcullis/api";
import { getDb } from "../../../../lib/db.ts";
import { logger } from "../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Public API v1: the audit trail, newest first, with filters and an opaque cursor. Bearer API token, auditor or admin. */
export function GET(request: Request) {
  return handleRest(
    () => listAuditEventsRest(getDb(), request),
    (err) => logger.error({ err }, "GET /api/v1/audit-events failed"),
  );
}
