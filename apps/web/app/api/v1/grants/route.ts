import { handleRest, identitiesRest } from "@portcullis/api";
import { getDb } from "../../../../lib/db.ts";
import { logger } from "../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Grants an identity access to a connection, optionally until a time (admin). */
export function POST(request: Request) {
  return handleRest(
    () => identitiesRest.grant(getDb(), request),
    (err) => logger.error({ err }, "POST /api/v1/grants failed"),
    201,
  );
}
