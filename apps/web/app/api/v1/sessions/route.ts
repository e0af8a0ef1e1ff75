import { handleRest, sessionsRest } from "@portcullis/api";
import { getDb } from "../../../../lib/db.ts";
import { logger } from "../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Live client sessions through the agents (admin or auditor; a scoped token sees its connections'). */
export function GET(request: Request) {
  return handleRest(
    () => sessionsRest.live(getDb(), request),
    (err) => logger.error({ err }, "GET /api/v1/sessions failed"),
  );
}
