import { handleRest, identitiesRest } from "@portcullis/api";
import { getDb } from "../../../../../../lib/db.ts";
import { logger } from "../../../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Revokes an API token (admin): refused by the API at once and by agents within seconds. */
export async function POST(request: Request, context: { params: Promise<{ id: string }> }) {
  const { id } = await context.params;
  return handleRest(
    () => identitiesRest.revokeToken(getDb(), request, id),
    (err) => logger.error({ err }, "POST /api/v1/tokens/{id}/revoke failed"),
  );
}
