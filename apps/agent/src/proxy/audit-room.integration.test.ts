// The spool's room is judged before anything runs, through the real proxy, governor and spool wired as main.ts
// wires them: a query string of a thousand statements with room for a few hundred events runs none of them (it
// had run them all and dropped most of their events), and pipelined Binds or queries stop where the room ends:
// every statement that ran has its event.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTestDatabase } from "@portcullis/db/test-support";
import { initParser } from "@portcullis/policy";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Governor } from "../governor.ts";
import { AuditSpool } from "../spool/audit-spool.ts";
import { spoolHasRoom } from "./audit-room.ts";
import { startProxyServer, type TProxyServer } from "./server.ts";
import {
  backendMessages,
  clientUrl,
  frontend,
  localUpstream,
  rawSession,
  testSnapshot,
} from "./test-harness.ts";
import { parseMessage, queryMessage } from "./wire.ts";

const SPOOL_MAX_BYTES = 200_000;

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let direct: pg.Client;
let dir: string;
let spool: AuditSpool;
let spools = 0;
let proxy: TProxyServer;

beforeAll(async () => {
  await initParser();
  database = await createTestDatabase({ migrate: false });
  direct = new pg.Client({ connectionString: database.url });
  await direct.connect();
  await direct.query("create table items (id int primary key, v int); insert into items values (1, 0)");
  dir = await mkdtemp(path.join(os.tmpdir(), "audit-room-"));
  const governor = new Governor();
  governor.update(testSnapshot({ shop: localUpstream(database.name) }));
  proxy = await startProxyServer({
    host: "127.0.0.1",
    port: 0,
    logger: pino({ level: "silent" }),
    hooks: {
      authenticate: (r) => governor.authenticate(r),
      decide: (s, sql) => governor.decide(s, sql),
      auditRoom: (bytes) => spoolHasRoom(bytes, spool.bytes, SPOOL_MAX_BYTES),
      record: (e, json) => spool.append(e, json),
    },
  });
});

beforeEach(async () => {
  await spool?.close();
  spool = await AuditSpool.open(path.join(dir, String((spools += 1))), { maxBytes: SPOOL_MAX_BYTES });
  await direct.query("update items set v = 0");
});

/** How many statements of `prefix` ran (the value they count up) and how many the spool holds as run. */
async function ranAndRecorded(prefix: string): Promise<{ ran: number; recorded: number }> {
  const ran = (await direct.query<{ v: number }>("select v from items")).rows[0]!.v;
  const recorded = spool
    .pending()
    .filter((e) => e.statement?.startsWith(prefix) && e.decision !== "blocked").length;
  return { ran, recorded };
}

afterAll(async () => {
  await proxy?.close();
  await spool?.close();
  await direct?.end();
  await database?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("room in the audit spool", () => {
  it("refuses a query string whose events would not fit, before any of it runs; smaller ones run, each recorded", async () => {
    const client = new pg.Client({ connectionString: clientUrl(proxy.port) });
    await client.connect();
    const updates = (n: number) =>
      Array.from({ length: n }, (_, i) => `update items set v = ${i + 1} where id = 1`).join("; ");
    await expect(client.query(updates(1000))).rejects.toThrow(/audit spool has no room/);
    expect((await direct.query("select v from items")).rows).toEqual([{ v: 0 }]);
    const before = spool.size;
    await client.query(updates(10));
    expect((await direct.query("select v from items")).rows).toEqual([{ v: 10 }]);
    expect(spool.size - before).toBe(10);
    await client.end();
    // Every statement that ran has its event in the spool: none was dropped for want of room.
    expect(await ranAndRecorded("update items")).toEqual({ ran: 10, recorded: 10 });
  });

  it("stops a pipeline of Binds of one prepared UPDATE where the room ends: each that ran is recorded", async () => {
    const session = await rawSession(proxy.port);
    // Each its own batch (a refused Bind fails its batch, rolling back what ran in it).
    await session.exchange(parseMessage("u", "update items set v = v + 1 where id = 1"), frontend.sync());
    session.socket.write(
      Buffer.concat(
        Array.from({ length: 1000 }, () => [
          frontend.bind("", "u"),
          frontend.execute(""),
          frontend.sync(),
        ]).flat(),
      ),
    );
    const answer = await session.until("Z", 1000, 20_000);
    expect(answer.toString("latin1")).toContain("audit spool has no room");
    const { ran, recorded } = await ranAndRecorded("update items set v = v + 1");
    expect(ran).toBeLessThan(1000);
    expect(recorded).toBe(ran);
    session.socket.destroy();
  });

  it("a portal run in steps asks for room at each Execute: every step that ran is recorded", async () => {
    const session = await rawSession(proxy.port);
    const sql = `select g /* ${"x".repeat(20_000)} */ from generate_series(1, 200) g`;
    const step = frontend.frame("E", Buffer.from([0, 0, 0, 0, 1])); // the unnamed portal, one row
    const answer = await session.exchange(
      parseMessage("", sql),
      frontend.bind("", ""),
      ...Array.from({ length: 50 }, () => step),
      frontend.sync(),
    );
    const rows = backendMessages(answer).filter((m) => m.type === "D").length;
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(50);
    expect(answer.toString("latin1")).toContain("audit spool has no room");
    expect(
      spool.pending().filter((e) => e.statement?.startsWith("select g") && e.decision !== "blocked"),
    ).toHaveLength(rows);
    session.socket.destroy();
  });

  it("stops pipelined queries where the room ends: each that ran is recorded", async () => {
    const session = await rawSession(proxy.port);
    session.socket.write(
      Buffer.concat(
        Array.from({ length: 1000 }, () => queryMessage("update items set v = v + 1 where id = 1")),
      ),
    );
    await session.until("Z", 1000, 20_000);
    const { ran, recorded } = await ranAndRecorded("update items set v = v + 1");
    expect(ran).toBeGreaterThan(0);
    expect(ran).toBeLessThan(1000);
    expect(recorded).toBe(ran);
    session.socket.destroy();
  });
});
