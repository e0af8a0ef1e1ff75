// Stopping an agent (a rolling deploy, a scale-down) through real clients: idle sessions end at once, new
// clients are sent elsewhere, work under way finishes within the grace, and what outlives it is cancelled.
import { randomUUID } from "node:crypto";
import { createTestDatabase } from "@portcullis/db/test-support";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  backendMessages,
  errorsIn,
  frontend,
  localUpstream,
  rawSession,
  startTestProxy,
  type TTestProxy,
} from "./test-harness.ts";
import { parseMessage, queryMessage } from "./wire.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let direct: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  direct = new pg.Client({ connectionString: database.url });
  await direct.connect();
  await direct.query("create table orders (id int primary key)");
  await direct.query("create table batches (id int)");
});

afterAll(async () => {
  await direct?.end();
  await database?.drop();
});

const startProxy = () => startTestProxy({ shop: localUpstream(database.name) });

/** A connected node-postgres client, and the SQLSTATE of the error the agent ends it with, once it comes. */
async function connected(proxy: TTestProxy, application = "shutdown-test") {
  const client = new pg.Client({ connectionString: proxy.url(), application_name: application });
  const ended = new Promise<string | undefined>((resolve) =>
    client.on("error", (e: Error & { code?: string }) => resolve(e.code)),
  );
  await client.connect();
  return { client, ended };
}

const activeStatements = async (application: string) =>
  (
    await direct.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where application_name = $1 and state = 'active'",
      [application],
    )
  ).rows[0]!.n;

it("ends idle sessions at once, refuses new ones with 57P03 and lets a transaction under way commit", async () => {
  const proxy = await startProxy();
  const idle = await connected(proxy);
  const busy = await connected(proxy);
  await busy.client.query("begin");
  await busy.client.query("insert into orders values (1)");
  const sleeping = busy.client.query("select pg_sleep(0.5)");

  const started = Date.now();
  const closed = proxy.server.close(20_000);
  expect(await idle.ended).toBe("57P01");

  // A client arriving now is told the agent is going away, as by a Postgres shutting down.
  const late = new pg.Client({ connectionString: proxy.url() });
  const refusal = await late.connect().then(
    () => "connected",
    (e: Error & { code?: string }) => `${e.code}: ${e.message}`,
  );
  expect(refusal).toBe("57P03: the Portcullis agent is shutting down");

  // The busy session finishes its statement and its transaction, then is ended.
  await sleeping;
  await busy.client.query("insert into orders values (2)");
  await busy.client.query("commit");
  expect(await busy.ended).toBe("57P01");
  await closed;
  expect(Date.now() - started).toBeLessThan(10_000);
  const { rows } = await direct.query<{ id: number }>("select id from orders order by id");
  expect(rows.map((r) => r.id)).toEqual([1, 2]);
  // Both sessions' ends are in the audit trail, with the reason.
  const ends = proxy.events.filter((e) => e.type === "session_end").map((e) => e.message);
  expect(ends).toEqual(["agent shutting down", "agent shutting down"]);
  for (const c of [idle.client, busy.client, late]) await c.end().catch(() => undefined);
});

it("still answers a client's cancel while it drains", async () => {
  const proxy = await startProxy();
  const sql = postgres(proxy.url(), { max: 1, onnotice: () => undefined });
  await sql`select 1`;
  const pending = sql`select pg_sleep(30)`.execute();
  const outcome = pending.then(
    () => "finished",
    (e: Error & { code?: string }) => e.code,
  );
  await new Promise((r) => setTimeout(r, 300));
  const started = Date.now();
  const closed = proxy.server.close(20_000);
  pending.cancel();
  expect(await outcome).toBe("57014"); // canceling statement due to user request
  // Then idle, the session is ended: the agent stops long before its 20 s of grace.
  await closed;
  expect(Date.now() - started).toBeLessThan(5_000);
  await sql.end({ timeout: 1 }).catch(() => undefined);
});

it("cancels the statement still running when the grace is over, and rolls its transaction back", async () => {
  const proxy = await startProxy();
  const application = `grace-${randomUUID().slice(0, 8)}`;
  const busy = await connected(proxy, application);
  await busy.client.query("begin");
  await busy.client.query("insert into orders values (3)");
  const sleeping = busy.client.query("select pg_sleep(30)").then(
    () => "finished",
    (e: Error) => e.message,
  );
  await expect.poll(() => activeStatements(application), { timeout: 3_000 }).toBe(1);

  const started = Date.now();
  await proxy.server.close(500);
  expect(Date.now() - started).toBeLessThan(3_000);
  expect(await sleeping).toMatch(/agent is shutting down|Connection terminated/);
  // Cancelled upstream, not abandoned to sleep on; and the insert did not commit.
  await expect.poll(() => activeStatements(application), { timeout: 3_000 }).toBe(0);
  const { rows } = await direct.query("select 1 from orders where id = 3");
  expect(rows).toEqual([]);
  await busy.client.end().catch(() => undefined);
});

it("waits for the Sync of an extended-protocol batch answered after an earlier ReadyForQuery", async () => {
  const proxy = await startProxy();
  const session = await rawSession(proxy.port);
  // One write, as a pipelining client sends it: a simple query still running, then a batch without its Sync.
  session.socket.write(
    Buffer.concat([
      queryMessage("select pg_sleep(0.3)"),
      parseMessage("", "insert into batches values (1)"),
      frontend.bind("", ""),
      frontend.execute(""),
      frontend.frame("H", Buffer.alloc(0)), // Flush
    ]),
  );
  await new Promise((r) => setTimeout(r, 50));
  const closed = proxy.server.close(10_000);
  // The SELECT's ReadyForQuery, then the INSERT's CommandComplete: the implicit transaction is still open.
  const answered = await session.until("C", 2);
  expect(backendMessages(answered).map((m) => m.type)).toEqual(["T", "D", "C", "Z", "1", "2", "C"]);
  session.socket.write(frontend.sync());
  const rest = await session.untilClosed(5_000);
  // The Sync commits the batch; only then is the session ended.
  expect(backendMessages(rest.bytes).map((m) => m.type)).toEqual(["Z", "E"]);
  expect(errorsIn(rest.bytes).map((e) => e.C)).toEqual(["57P01"]);
  await closed;
  const { rows } = await direct.query<{ n: number }>("select count(*)::int as n from batches");
  expect(rows[0]!.n).toBe(1);
});
