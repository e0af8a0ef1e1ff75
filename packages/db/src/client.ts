import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "./generated/prisma/client.ts";

export type TDb = InstanceType<typeof PrismaClient>;

export interface TCreateDbOptions {
  /** Pool size. The embedded store (PGlite) has one backend session, so callers use 1 there. */
  poolMax?: number;
}

type TTransaction = Awaited<ReturnType<Awaited<ReturnType<PrismaPg["connect"]>>["startTransaction"]>>;

/**
 * PrismaPg whose transactions run their queries one after another. Prisma's query interpreter reads a
 * select's relations with Promise.all, so inside a transaction several queries reach the transaction's one
 * pg client at once: pg queues them (the order is the same) but warns since 8.19 and refuses from pg 9
 * (prisma/orm#29468, open upstream). Outside a transaction each query takes its own pool connection.
 */
class SerialTransactionsPg extends PrismaPg {
  override async connect(): ReturnType<PrismaPg["connect"]> {
    const adapter = await super.connect();
    const startTransaction = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (isolationLevel) => serialized(await startTransaction(isolationLevel));
    return adapter;
  }
}

function serialized(tx: TTransaction): TTransaction {
  let tail: Promise<unknown> = Promise.resolve();
  const queue = <T>(run: () => Promise<T>): Promise<T> => {
    const result = tail.then(run, run);
    tail = result.catch(() => undefined);
    return result;
  };
  const queryRaw = tx.queryRaw.bind(tx);
  const executeRaw = tx.executeRaw.bind(tx);
  tx.queryRaw = (query) => queue(() => queryRaw(query));
  tx.executeRaw = (query) => queue(() => executeRaw(query));
  return tx;
}

/** The connection pool under each client, for the few hot paths that skip Prisma (see appendAuditEvents). */
const pools = new WeakMap<TDb, pg.Pool>();

export function createDb(databaseUrl: string, options: TCreateDbOptions = {}): TDb {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.poolMax ?? 10 });
  // An idle connection that dies (database restart, terminated backend) leaves the pool by itself and the
  // next query opens a new one; without a listener its error event would end the process.
  pool.on("error", () => undefined);
  const db = new PrismaClient({ adapter: new SerialTransactionsPg(pool, { disposeExternalPool: true }) });
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
