import { handleTrpcRequest } from "@portcullis/api";
import { deriveSecretKey } from "@portcullis/db";
import { getSession } from "../../../../auth.ts";
import { env } from "../../../../env.ts";
import { getDb } from "../../../../lib/db.ts";
import { logger } from "../../../../lib/logger.ts";

function handler(req: Request) {
  return handleTrpcRequest(req, {
    context: async () => ({
      db: getDb(),
      headers: req.headers,
      session: await getSession(),
      secretKey: deriveSecretKey(env.PORTCULLIS_SECRET_KEY),
      auditStreamHosts: env.PORTCULLIS_AUDIT_STREAM_HOSTS,
    }),
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR")
        logger.error({ err: error.cause ?? error, path }, "tRPC call failed");
    },
  });
}

export { handler as GET, handler as POST };
