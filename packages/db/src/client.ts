import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "./generated/prisma/client.ts";

export type TDb = InstanceType<typeof PrismaClient>;

export interface TCreateDbOptions {
  /** Pool size. The embedded store (PGlite) has one backend session, so callers use 1 there. */
  poolMax?: number;
}

/** The connection pool under each client, for the few hot paths that skip Prisma (see appendAuditEvents). */
const pools = new WeakMap<TDb, pg.Pool>();

export function createDb(databaseUrl: string, options: TCreateDbOptions = {}): TDb {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.poolMax ?? 10 });
  // An idle connection that dies (database restart, terminated backend) leaves the pool by itself and the
  // next query opens a new one; without a listener its error event would end the process.
  pool.on("error", () => undefined);
  const db = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  pools.set(db, pool);
  return db;
}

/**
 * The client's own pg pool: queries on it share the client's connection limit (the embedded store has a
 * single backend session). Undefined for clients made elsewhere.
 */
export function poolOf(db: TDb): pg.Pool | undefined {
  return pools.get(db);
}

/**
 * One client per process and URL. Next.js bundles server code separately from the custom server, so a
 * module-level singleton would exist twice; globalThis is shared by both.
 */
export function getSharedDb(databaseUrl: string, options: TCreateDbOptions = {}): TDb {
  const registry = ((globalThis as { __portcullisDb?: Map<string, TDb> }).__portcullisDb ??= new Map());
  let db = registry.get(databaseUrl);
  if (!db) {
    db = createDb(databaseUrl, options);
    registry.set(databaseUrl, db);
  }
  return db;
}
