import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/prisma/client.ts";

export type TDb = InstanceType<typeof PrismaClient>;

export interface TCreateDbOptions {
  /** Pool size. The embedded store (PGlite) has one backend session, so callers use 1 there. */
  poolMax?: number;
}

export function createDb(databaseUrl: string, options: TCreateDbOptions = {}): TDb {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: options.poolMax ?? 10 });
  return new PrismaClient({ adapter });
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
