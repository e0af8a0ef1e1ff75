import { handleRest, identitiesRest } from "@portcullis/api";
import { getDb } from "../../../../lib/db.ts";
import { logger } from "../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Public API v1: identities (admin or auditor). */
export function GET(request: Request) {
  return handleRest(
    () => identitiesRest.list(getDb(), request),
    (err) => logger.error({ err }, "GET /api/v1/identities failed"),
  );
}

/** Creates a service or AI-agent identity (admin). */
export function POST(request: Request) {
  return handleRest(
    () => identitiesRest.create(getDb(), request),
    (err) => logger.error({ err }, "POST /api/v1/identities failed"),
    201,
  );
}
