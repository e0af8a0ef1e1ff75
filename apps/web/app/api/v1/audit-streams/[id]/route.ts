import { auditStreamsRest, handleRest } from "@portcullis/api";
import { getDb } from "../../../../../lib/db.ts";
import { logger } from "../../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Deletes an audit stream (admin); its position in the timeline goes with it. */
export async function DELETE(request: Request, context: { params: Promise<{ id: string }> }) {
  const { id } = await context.params;
  return handleRest(
    () => auditStreamsRest.remove(getDb(), request, id),
    (err) => logger.error({ err }, "DELETE /api/v1/audit-streams/{id} failed"),
  );
}
