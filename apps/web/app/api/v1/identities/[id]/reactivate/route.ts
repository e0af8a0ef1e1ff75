import { handleRest, identitiesRest } from "@portcullis/api";
import { getDb } from "../../../../../../lib/db.ts";
import { logger } from "../../../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Reactivates an identity (admin); its old tokens stay revoked. */
export async function POST(request: Request, context: { params: Promise<{ id: string }> }) {
  const { id } = await context.params;
  return handleRest(
    () => identitiesRest.setActive(getDb(), request, id, true),
    (err) => logger.error({ err }, "POST /api/v1/identities/{id}/reactivate failed"),
  );
}
