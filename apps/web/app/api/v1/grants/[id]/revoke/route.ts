import { handleRest, identitiesRest } from "@portcullis/api";
import { getDb } from "../../../../../../lib/db.ts";
import { logger } from "../../../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Ends a grant (admin): agents drop it and end the sessions standing on it within seconds. */
export async function POST(request: Request, context: { params: Promise<{ id: string }> }) {
  const { id } = await context.params;
  return handleRest(
    () => identitiesRest.revokeGrant(getDb(), request, id),
    (err) => logger.error({ err }, "POST /api/v1/grants/{id}/revoke failed"),
  );
}
