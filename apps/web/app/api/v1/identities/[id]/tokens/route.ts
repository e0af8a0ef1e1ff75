import { handleRest, identitiesRest } from "@portcullis/api";
import { getDb } from "../../../../../../lib/db.ts";
import { logger } from "../../../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Issues an API token to an identity (admin); the secret is in this response only. */
export async function POST(request: Request, context: { params: Promise<{ id: string }> }) {
  const { id } = await context.params;
  return handleRest(
    () => identitiesRest.createToken(getDb(), request, id),
    (err) => logger.error({ err }, "POST /api/v1/identities/{id}/tokens failed"),
    201,
  );
}
