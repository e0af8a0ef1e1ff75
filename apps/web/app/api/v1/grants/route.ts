import { handleRest, identitiesRest } from "@portcullis/api";
import { getDb } from "../../../../lib/db.ts";
import { logger } from "../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Grants in force: who may reach which connection, directly or through a group, until when (admin, auditor). */
export function GET(request: Request) {
  return handleRest(
    () => identitiesRest.grants(getDb(), request),
    (err) => logger.error({ err }, "GET /api/v1/grants failed"),
  );
}

/** Grants an identity, or every member of a group, access to a connection, optionally until a time (admin). */
export function POST(request: Request) {
  return handleRest(
    () => identitiesRest.grant(getDb(), request),
    (err) => logger.error({ err }, "POST /api/v1/grants failed"),
    201,
  );
}
