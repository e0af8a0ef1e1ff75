import { scimRest } from "@portcullis/api";
import { getDb } from "../../../../lib/db.ts";
import { logger } from "../../../../lib/logger.ts";

export const dynamic = "force-dynamic";

/** SCIM 2.0 provisioning (Users, Groups and discovery) for identity providers, with an admin's API token. */
async function handle(request: Request, context: { params: Promise<{ path: string[] }> }) {
  const { path } = await context.params;
  return scimRest.handle(getDb(), request, path, (err) =>
    logger.error({ err }, `${request.method} /scim/v2/${path.join("/")} failed`),
  );
}

export { handle as DELETE, handle as GET, handle as PATCH, handle as POST, handle as PUT };
