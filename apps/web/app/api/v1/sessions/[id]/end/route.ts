import { handleRest, sessionsRest } from "@portcullis/api";
import { getDb } from "../../../../../../lib/db.ts";
import { logger } from "../../../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Ends a live session (admin): its agent closes it within seconds. Body: optional `reason`. */
export async function POST(request: Request, context: { params: Promise<{ id: string }> }) {
  const { id } = await context.params;
  return handleRest(
    () => sessionsRest.end(getDb(), request, id),
    (err) => logger.error({ err }, "POST /api/v1/sessions/{id}/end failed"),
  );
}
