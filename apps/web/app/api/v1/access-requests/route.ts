import { approvalsRest, handleRest } from "@portcullis/api";
import { getDb } from "../../../../lib/db.ts";
import { logger } from "../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Asks for just-in-time access: {"connectionId", "durationSeconds", "reason"} (any identity). */
export function POST(request: Request) {
  return handleRest(
    () => approvalsRest.createAccessRequest(getDb(), request),
    (err) => logger.error({ err }, "POST /api/v1/access-requests failed"),
    201,
  );
}

/** Access requests, newest first; `?status=pending` for the inbox (approver, admin or auditor). */
export function GET(request: Request) {
  return handleRest(
    () => approvalsRest.listAccessRequests(getDb(), request),
    (err) => logger.error({ err }, "GET /api/v1/access-requests failed"),
  );
}
