import { deriveSecretKey } from "@portcullis/db";
import { handleRest, identitiesRest } from "@portcullis/api";
import { env } from "../../../../../../env.ts";
import { getDb } from "../../../../../../lib/db.ts";
import { logger } from "../../../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** A short-lived database credential for the caller's own grant, with the connection string that uses it. */
export async function POST(request: Request, context: { params: Promise<{ id: string }> }) {
  const { id } = await context.params;
  return handleRest(
    () => identitiesRest.databaseCredential(getDb(), request, id, deriveSecretKey(env.PORTCULLIS_SECRET_KEY)),
    (err) => logger.error({ err }, "POST /api/v1/connections/{id}/credentials failed"),
    201,
  );
}
