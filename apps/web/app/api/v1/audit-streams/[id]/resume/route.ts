import { auditStreamsRest, handleRest } from "@portcullis/api";
import { getDb } from "../../../../../../lib/db.ts";
import { logger } from "../../../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Resumes an audit stream (admin), retrying a failing one at once. */
export async function POST(request: Request, context: { params: Promise<{ id: string }> }) {
  const { id } = await context.params;
  return handleRest(
    () => auditStreamsRest.setEnabled(getDb(), request, id, true),
    (err) => logger.error({ err }, "POST /api/v1/audit-streams/{id}/resume failed"),
  );
}
