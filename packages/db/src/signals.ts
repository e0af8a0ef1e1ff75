// Signals between control-plane replicas over the store's LISTEN/NOTIFY. Replicas share nothing but the
// store, and an agent's link lands on one of them: a decision taken on another (an approval) has to reach it.
// Postgres rather than a second service (Redis) because every deployment already has it.
import pg from "pg";
import { poolOf, type TDb } from "./client.ts";

/** NOTIFY refuses payloads of 8000 bytes or more. */
export const MAX_SIGNAL_PAYLOAD_BYTES = 7999;

/** Sends `payload` to every replica listening on `channel`, this one included. */
export async function publishSignal(db: TDb, channel: string, payload: string): Promise<void> {
  if (Buffer.byteLength(payload) > MAX_SIGNAL_PAYLOAD_BYTES)
    throw new Error(`signal payload on ${channel} is larger than ${MAX_SIGNAL_PAYLOAD_BYTES} bytes`);
  const pool = poolOf(db);
  if (pool) await pool.query("SELECT pg_notify($1, $2)", [channel, payload]);
  else await db.$executeRaw`SELECT pg_notify(${channel}, ${payload})`;
}

export interface TSignalSubscription {
  /** Resolves once the first LISTEN is in place (signals published before then are not seen). */
  ready: Promise<void>;
  close(): Promise<void>;
}

export interface TSubscribeOptions {
  /** Wait before reconnecting after the listening connection fails (ms, default 1000). */
  retryMs?: number;
  /**
   * How often the idle listening connection is checked with a query (ms, default 30 000): a connection a
   * load balancer or NAT dropped silently raises no error until something is sent on it.
   */
  checkEveryMs?: number;
  /** The listening connection failed (it reconnects), or onSignal threw. */
  onError?: (error: Error) => void;
}

/**
 * Listens on `channels` over one dedicated connection (a pooled one would be handed back, and its LISTEN
 * with it) and reconnects when it fails. Signals sent while it is down are lost, as with any NOTIFY: a
 * sender that needs to know must ask for an answer and time out (see the agent gateway).
 */
export function subscribeSignals(
  databaseUrl: string,
  channels: string[],
  onSignal: (channel: string, payload: string) => void,
  options: TSubscribeOptions = {},
): TSignalSubscription {
  const retryMs = options.retryMs ?? 1000;
  let closed = false;
  let client: pg.Client | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  const checkTimer = setInterval(() => {
    const current = client;
    current?.query("SELECT 1").catch((error: Error) => {
      if (client === current) retry(error);
    });
  }, options.checkEveryMs ?? 30_000);
  checkTimer.unref();
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const retry = (error: Error) => {
    options.onError?.(error);
    const failed = client;
    client = null;
    failed?.end().catch(() => undefined);
    if (!closed && !retryTimer) retryTimer = setTimeout(() => void connect(), retryMs);
  };

  const connect = async () => {
    retryTimer = null;
    if (closed) return;
    const next = new pg.Client({ connectionString: databaseUrl, keepAlive: true });
    client = next;
    next.on("notification", (message) => {
      if (client !== next) return;
      try {
        onSignal(message.channel, message.payload ?? "");
      } catch (error) {
        // A listener's bug must not take the connection's event handling (and the process) down with it.
        options.onError?.(error as Error);
      }
    });
    next.on("error", (error) => {
      if (client === next) retry(error);
    });
    try {
      await next.connect();
      for (const channel of channels) await next.query(`LISTEN ${next.escapeIdentifier(channel)}`);
      if (closed) await next.end();
      else markReady();
    } catch (error) {
      if (client === next) retry(error as Error);
    }
  };
  void connect();

  return {
    ready,
    async close() {
      closed = true;
      clearInterval(checkTimer);
      if (retryTimer) clearTimeout(retryTimer);
      const current = client;
      client = null;
      await current?.end().catch(() => undefined);
    },
  };
}

/** How long an untaken replica message is kept (its sender or receiver died mid-exchange). */
const REPLICA_MESSAGE_TTL_MS = 60 * 60 * 1000;

/** Stores a body for another replica to take; the NOTIFY that names it goes out after this resolves. */
export async function putReplicaMessage(db: TDb, id: string, body: string): Promise<void> {
  await db.replicaMessage.deleteMany({
    where: { createdAt: { lt: new Date(Date.now() - REPLICA_MESSAGE_TTL_MS) } },
  });
  await db.replicaMessage.create({ data: { id, body }, select: { id: true } });
}

/** Takes (reads and deletes) a stored body; null when it is gone or was never there. */
export async function takeReplicaMessage(db: TDb, id: string): Promise<string | null> {
  // One statement, so two takers cannot both get it.
  const rows = await db.$queryRaw<{ body: string }[]>`
    DELETE FROM replica_messages WHERE id = ${id}::uuid RETURNING body`;
  return rows[0]?.body ?? null;
}
