import { checkHealth, jsonResponse } from "@portcullis/api";
import { getDb } from "../../../lib/db.ts";
import packageJson from "../../../package.json" with { type: "json" };

export const dynamic = "force-dynamic";

/** Liveness and readiness in one: 503 when the store is unreachable, so a load balancer drains this replica. */
export async function GET() {
  const health = await checkHealth(getDb());
  return jsonResponse(
    { ...health, version: packageJson.version },
    { status: health.status === "ok" ? 200 : 503 },
  );
}
