import { handleRest, identitiesRest } from "@portcullis/api";
import { getDb } from "../../../../../../lib/db.ts";
import { logger } from "../../../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Deactivates an identity (admin): its tokens are revoked, agents end its sessions within seconds. */
export async function POST(request: Request, context: { params: Promise<{ id: string }> }) {
  const { id } = await context.params;
  return handleRest(
    () => identitiesRest.setActive(getDb(), request, id, false),
    (err) => logger.error({ err }, "POST /api/v1/identities/{id}/deactivate failed"),
  );
}
