import { approvalsRest, handleRest } from "@portcullis/api";
import { getDb } from "../../../../lib/db.ts";
import { logger } from "../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Approval requests, newest first; `?status=pending` for the inbox (approver, admin or auditor). */
export function GET(request: Request) {
  return handleRest(
    () => approvalsRest.list(getDb(), request),
    (err) => logger.error({ err }, "GET /api/v1/approvals failed"),
  );
}
