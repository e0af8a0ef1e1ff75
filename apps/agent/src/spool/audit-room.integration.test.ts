// The spool's room is judged per client message before anything of it runs, through the real proxy, governor
// and spool wired as main.ts wires them: a query string of a thousand statements with room for a few hundred
// events runs none of them (it had run them all and dropped most of their events).
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTestDatabase } from "@portcullis/db/test-support";
import { initParser } from "@portcullis/policy";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Governor } from "../governor.ts";
import { startProxyServer, type TProxyServer } from "../proxy/server.ts";
import { clientUrl, localUpstream, testSnapshot } from "../proxy/test-harness.ts";
import { AuditSpool } from "./audit-spool.ts";
import { withAuditRoom } from "./audit-room.ts";

const SPOOL_MAX_BYTES = 200_000;

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let direct: pg.Client;
let dir: string;
let spool: AuditSpool;
let proxy: TProxyServer;

beforeAll(async () => {
  await initParser();
  database = await createTestDatabase({ migrate: false });
  direct = new pg.Client({ connectionString: database.url });
  await direct.connect();
  await direct.query("create table items (id int primary key, v int); insert into items values (1, 0)");
  dir = await mkdtemp(path.join(os.tmpdir(), "audit-room-"));
  spool = await AuditSpool.open(dir, { maxBytes: SPOOL_MAX_BYTES });
  const governor = new Governor();
  governor.update(testSnapshot({ shop: localUpstream(database.name) }));
  proxy = await startProxyServer({
    host: "127.0.0.1",
    port: 0,
    logger: pino({ level: "silent" }),
    hooks: {
      authenticate: (r) => governor.authenticate(r),
      decide: (s, sql) => withAuditRoom(governor.decide(s, sql), spool.bytes, SPOOL_MAX_BYTES),
      record: (e, json) => spool.append(e, json),
    },
  });
});

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
    const ran = spool
      .pending()
      .filter((e) => e.statement?.startsWith("update items") && e.decision !== "blocked");
    expect(ran).toHaveLength(10);
  });
});
