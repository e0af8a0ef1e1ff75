import { auditStreamsRest, handleRest } from "@portcullis/api";
import { deriveSecretKey } from "@portcullis/db";
import { env } from "../../../../env.ts";
import { getDb } from "../../../../lib/db.ts";
import { logger } from "../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** Audit streams with their delivery state (admin). */
export function GET(request: Request) {
  return handleRest(
    () => auditStreamsRest.list(getDb(), request),
    (err) => logger.error({ err }, "GET /api/v1/audit-streams failed"),
  );
}

/** Adds an audit stream to a SIEM collector (admin); its secrets are stored encrypted and never returned. */
export function POST(request: Request) {
  return handleRest(
    () =>
      auditStreamsRest.create(
        getDb(),
        request,
        deriveSecretKey(env.PORTCULLIS_SECRET_KEY),
        env.PORTCULLIS_AUDIT_STREAM_HOSTS,
      ),
    (err) => logger.error({ err }, "POST /api/v1/audit-streams failed"),
    201,
  );
}
