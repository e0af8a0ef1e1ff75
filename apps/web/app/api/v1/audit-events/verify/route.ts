import { handleRest, verifyAuditChainRest } from "@portcullis/api";
import { getDb } from "../../../../../lib/db.ts";
import { logger } from "../../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Public API v1: recomputes the audit hash chain; reports the first broken link (auditor or admin). */
export function GET(request: Request) {
  return handleRest(
    () => verifyAuditChainRest(getDb(), request),
    (err) => logger.error({ err }, "GET /api/v1/audit-events/verify failed"),
  );
}
