import { handleRest, identitiesRest } from "@portcullis/api";
import { getDb } from "../../../../lib/db.ts";
import { logger } from "../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Connections: id, name, environment (admin, approver or auditor). */
export function GET(request: Request) {
  return handleRest(
    () => identitiesRest.connections(getDb(), request),
    (err) => logger.error({ err }, "GET /api/v1/connections failed"),
  );
}
