import { approvalsRest, handleRest } from "@portcullis/api";
import { getDb } from "../../../../../../lib/db.ts";
import { logger } from "../../../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Approve an access request (approver or admin; never the requester). Body: {"reason": "..."}. */
export async function POST(request: Request, context: { params: Promise<{ id: string }> }) {
  const { id } = await context.params;
  return handleRest(
    () => approvalsRest.decideAccessRequest(getDb(), request, id, true),
    (err) => logger.error({ err }, "POST /api/v1/access-requests/{id}/approve failed"),
  );
}
