// A client that goes away while its statements run does not take their audit events with it. The database
// runs on what it has read (outside a transaction an UPDATE commits) until it next writes to a client it finds
// gone, so the agent reads their answers to the end, records what they did, and only then closes the session;
// statements still running after a grace are cancelled, and their cancellation recorded.
import net from "node:net";
import { createTestDatabase } from "@portcullis/db/test-support";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  backendMessages,
  frontend,
  localUpstream,
  rawSession,
  startTestProxy,
  TEST_CONNECTION,
  TEST_IDENTITY,
  TEST_TOKEN,
  type TTestProxy,
} from "./test-harness.ts";
import { passwordMessage, queryMessage, startupMessage } from "./wire.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let direct: pg.Client;
let proxy: TTestProxy;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  direct = new pg.Client({ connectionString: database.url });
  await direct.connect();
  await direct.query("create table items (id int primary key, v int)");
  proxy = await startTestProxy({ shop: localUpstream(database.name) }, { goneClientGraceMs: 1_000 });
});

afterAll(async () => {
  await proxy?.close();
  await direct?.end();
  await database?.drop();
});

beforeEach(async () => {
  await direct.query("delete from items; insert into items select g, 0 from generate_series(1, 10) g");
});

const valueOf = async (id: number) =>
  (await direct.query<{ v: number }>("select v from items where id = $1", [id])).rows[0]!.v;

/** The session's events, once its session_end is in. */
async function sessionEvents(statement: string) {
  // The newest session that ran it: tests before may have run the same statement.
  const session = () => proxy.events.findLast((e) => e.statement === statement)?.sessionId;
  await expect
    .poll(() => proxy.events.some((e) => e.sessionId === session() && e.type === "session_end"), {
      timeout: 10_000,
    })
    .toBe(true);
  return proxy.events.filter((e) => e.sessionId === session());
}

describe("a client that goes away while its statements run", () => {
  it("disconnecting: the UPDATE the database ran anyway is recorded, before the session's end", async () => {
    const session = await rawSession(proxy.port);
    session.socket.write(queryMessage("select pg_sleep(0.5); update items set v = 99 where id = 1"));
    await new Promise((r) => setTimeout(r, 100));
    session.socket.destroy();
    const events = await sessionEvents("update items set v = 99 where id = 1");
    expect(await valueOf(1)).toBe(99);
    expect(events.map((e) => [e.type, e.statement, e.rowCount, e.error])).toEqual([
      ["session_start", null, null, null],
      ["statement", "select pg_sleep(0.5)", 1, null],
      ["statement", "update items set v = 99 where id = 1", 1, null],
      ["session_end", null, null, null],
    ]);
  });

  it("a Terminate right behind the statement (a client that does not wait): recorded as well", async () => {
    const session = await rawSession(proxy.port);
    session.socket.write(
      Buffer.concat([
        queryMessage("select pg_sleep(0.5); update items set v = 77 where id = 2"),
        frontend.frame("X", Buffer.alloc(0)),
      ]),
    );
    session.socket.end();
    const events = await sessionEvents("update items set v = 77 where id = 2");
    expect(await valueOf(2)).toBe(77);
    expect(events.find((e) => e.statement === "update items set v = 77 where id = 2")).toMatchObject({
      decision: "allowed",
      rowCount: 1,
    });
  });

  it("in the middle of its COPY data: the COPY fails, as it does for a client gone directly, and is recorded", async () => {
    const session = await rawSession(proxy.port);
    session.socket.write(queryMessage("copy items from stdin"));
    await session.until("G");
    session.socket.write(frontend.frame("d", Buffer.from("11\t1\n")));
    await new Promise((r) => setTimeout(r, 100));
    session.socket.destroy();
    const events = await sessionEvents("copy items from stdin");
    expect(events.find((e) => e.statement === "copy items from stdin")).toMatchObject({
      decision: "error",
      error: expect.stringContaining("the client went away"),
    });
    expect((await direct.query("select count(*)::int as n from items")).rows[0]).toEqual({ n: 10 });
  });

  it("a COPY that starts after its client went away fails at once", async () => {
    // Its own text: the test before ran "copy items from stdin", and this one must wait for its own session.
    const session = await rawSession(proxy.port);
    session.socket.write(
      Buffer.concat([queryMessage("select pg_sleep(0.3)"), queryMessage("copy items (id, v) from stdin")]),
    );
    await new Promise((r) => setTimeout(r, 100));
    const gone = Date.now();
    session.socket.destroy();
    const events = await sessionEvents("copy items (id, v) from stdin");
    // Well before the grace (1 s here) ends in a cancel, which a COPY waiting for data does not act on.
    expect(Date.now() - gone).toBeLessThan(900);
    expect(events.find((e) => e.statement === "copy items (id, v) from stdin")).toMatchObject({
      decision: "error",
      error: expect.stringContaining("the client went away"),
    });
  });

  it("an ended session runs nothing more of what its client sends, even a client that ignores the FATAL", async () => {
    // Half open: the client goes on writing after the agent has closed its side.
    const socket = net.connect({ port: proxy.port, host: "127.0.0.1", allowHalfOpen: true });
    socket.on("error", () => undefined);
    let received = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => (received = Buffer.concat([received, d])));
    await new Promise<void>((r) => socket.once("connect", () => r()));
    socket.write(startupMessage({ user: TEST_IDENTITY, database: TEST_CONNECTION }));
    await expect.poll(() => received.length).toBeGreaterThanOrEqual(9);
    socket.write(passwordMessage(TEST_TOKEN));
    await expect.poll(() => backendMessages(received).some((m) => m.type === "Z")).toBe(true);
    socket.write(queryMessage("select pg_sleep(0.5)"));
    await new Promise((r) => setTimeout(r, 100));
    expect(
      proxy.server.terminateSessions(() => true, "terminating connection: your access was revoked"),
    ).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    socket.write(queryMessage("update items set v = 42 where id = 4"));
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await valueOf(4)).toBe(0);
    expect(proxy.events.some((e) => e.statement === "update items set v = 42 where id = 4")).toBe(false);
    socket.destroy();
  });

  it("past the grace the statement is cancelled, and its cancellation (and what never ran) recorded", async () => {
    const session = await rawSession(proxy.port);
    session.socket.write(queryMessage("select pg_sleep(30); update items set v = 55 where id = 3"));
    await new Promise((r) => setTimeout(r, 100));
    session.socket.destroy();
    const started = Date.now();
    const events = await sessionEvents("select pg_sleep(30)");
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(await valueOf(3)).toBe(0);
    expect(events.find((e) => e.statement === "select pg_sleep(30)")).toMatchObject({
      decision: "error",
      error: expect.stringMatching(/^57014/),
    });
    // The rest of the query string did not run: the database skips it after an error, and says nothing of it.
    expect(events.some((e) => e.statement?.startsWith("update items set v = 55"))).toBe(false);
  });
});
