import { auditStreamsRest, handleRest } from "@portcullis/api";
import { getDb } from "../../../../../../lib/db.ts";
import { logger } from "../../../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Pauses an audit stream (admin): it keeps its position and resumes from there. */
export async function POST(request: Request, context: { params: Promise<{ id: string }> }) {
  const { id } = await context.params;
  return handleRest(
    () => auditStreamsRest.setEnabled(getDb(), request, id, false),
    (err) => logger.error({ err }, "POST /api/v1/audit-streams/{id}/pause failed"),
  );
}
