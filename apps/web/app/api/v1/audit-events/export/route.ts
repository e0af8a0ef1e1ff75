import { exportAuditEventsRest, restErrorResponse } from "@portcullis/api";
import { getDb } from "../../../../../lib/db.ts";
import { logger } from "../../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Public API v1: the filtered audit trail as CSV or JSON Lines, streamed (auditor or admin). */
export async function GET(request: Request) {
  try {
    return await exportAuditEventsRest(getDb(), request);
  } catch (error) {
    logger.warn({ err: error }, "GET /api/v1/audit-events/export refused");
    return restErrorResponse(error);
  }
}
