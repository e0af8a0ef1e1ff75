import { getSharedDb, type TDb } from "@portcullis/db";
import { env } from "../env.ts";

/** The process-wide client, shared with server.ts (getSharedDb keys it on globalThis). Lazy: `next build` has no database. */
export function getDb(): TDb {
  return getSharedDb(env.DATABASE_URL, { poolMax: env.DATABASE_POOL_MAX });
}
