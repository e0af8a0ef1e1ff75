// Compatibility suite: real clients through the agent against the machine's Postgres, each doing what its
// users do (psql \copy, pgbench in all three query modes, node-postgres, postgres.js pipelining, Prisma
// Client through adapter-pg, cancel). Through the agent the user is the identity and the password its token.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createDb } from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localUpstream, startTestProxy, TEST_IDENTITY, TEST_TOKEN, type TTestProxy } from "./test-harness.ts";

const run = promisify(execFile);

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TTestProxy;
let dir: string;

beforeAll(async () => {
  // Migrated with the project's migrations so the project's own Prisma client can run against it.
  database = await createTestDatabase();
  const setup = new pg.Client({ connectionString: database.url });
  await setup.connect();
  await setup.query(`
    create table items (id int primary key, name text not null, price numeric(10,2) not null);
    insert into items select g, 'item ' || g, g * 1.5 from generate_series(1, 100) g;
    create table imports (id int primary key, name text not null);
  `);
  await setup.end();
  // pgbench -i drops and creates tables: that is DDL the agent's guardrails would rightly hold, so the
  // fixture is built directly; only the benchmark itself goes through the agent.
  await run("pgbench", ["-i", "-s", "1", "-q", database.url]);
  proxy = await startTestProxy({ shop: localUpstream(database.name) });
  dir = await mkdtemp(path.join(tmpdir(), "pc-compat-"));
});

afterAll(async () => {
  await proxy?.close();
  await database?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("psql", () => {
  it("copies to and from files with \\copy and streams COPY ... TO STDOUT", async () => {
    const out = path.join(dir, "items.csv");
    await run("psql", [
      proxy.url(),
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      `\\copy (select id, name from items where id <= 5 order by id) to '${out}' csv`,
    ]);
    expect((await readFile(out, "utf8")).trim().split("\n")).toEqual([
      "1,item 1",
      "2,item 2",
      "3,item 3",
      "4,item 4",
      "5,item 5",
    ]);

    const input = path.join(dir, "imports.csv");
    const lines = Array.from({ length: 1000 }, (_, i) => `${i + 1},"import, ""${i + 1}"""`);
    await writeFile(input, `${lines.join("\n")}\n`);
    await run("psql", [proxy.url(), "-v", "ON_ERROR_STOP=1", "-c", `\\copy imports from '${input}' csv`]);
    const { stdout: count } = await run("psql", [
      proxy.url(),
      "-tAc",
      "select count(*), max(name) from imports",
    ]);
    expect(count.trim()).toBe('1000|import, "999"');

    const { stdout } = await run("psql", [
      proxy.url(),
      "-c",
      "copy (select id, price from items order by id) to stdout",
    ]);
    const rows = stdout.trim().split("\n");
    expect(rows).toHaveLength(100);
    expect(rows[99]).toBe("100\t150.00");
  });

  it("a failing \\copy reports the database's error and leaves the session usable", async () => {
    const input = path.join(dir, "bad.csv");
    await writeFile(input, "1,duplicate of an existing key\n");
    const { stdout, stderr } = await run("psql", [
      proxy.url(),
      "-c",
      `\\copy imports from '${input}' csv`,
      "-c",
      "select 'still here'",
    ]);
    expect(stderr).toMatch(/duplicate key value violates unique constraint/);
    expect(stdout).toContain("still here");
  });
});

describe("pgbench", () => {
  // -n: pgbench would VACUUM first, which is maintenance the guardrails classify as DDL.
  const bench = async (mode: string, script: string[]) => {
    const { stdout } = await run(
      "pgbench",
      [
        "-n",
        "-M",
        mode,
        ...script,
        "-c",
        "2",
        "-j",
        "1",
        "-T",
        "1",
        "-h",
        "127.0.0.1",
        "-p",
        String(proxy.port),
        "-U",
        TEST_IDENTITY,
        "shop",
      ],
      { env: { ...process.env, PGPASSWORD: TEST_TOKEN } },
    );
    const processed = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? 0);
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    return { processed, failed, stdout };
  };

  for (const mode of ["simple", "extended", "prepared"]) {
    it(`runs the select-only and TPC-B-like scripts with -M ${mode}`, async () => {
      const selectOnly = await bench(mode, ["-S"]);
      expect(selectOnly.processed, selectOnly.stdout).toBeGreaterThan(0);
      expect(selectOnly.failed).toBe(0);
      const tpcb = await bench(mode, []);
      expect(tpcb.processed, tpcb.stdout).toBeGreaterThan(0);
      expect(tpcb.failed).toBe(0);
    });
  }
});

describe("node-postgres", () => {
  it("commits and rolls back transactions and reuses named prepared statements", async () => {
    const client = new pg.Client({ connectionString: proxy.url() });
    await client.connect();
    await client.query("begin");
    await client.query("insert into imports (id, name) values ($1, $2)", [5001, "committed"]);
    await client.query("commit");
    await client.query("begin");
    await client.query("insert into imports (id, name) values ($1, $2)", [5002, "rolled back"]);
    await client.query("rollback");
    const { rows } = await client.query<{ id: number }>(
      "select id from imports where id between 5000 and 5010 order by id",
    );
    expect(rows).toEqual([{ id: 5001 }]);

    // A named statement is parsed once and then only bound and executed: both paths must work.
    for (const id of [3, 4, 5]) {
      const result = await client.query({
        name: "item-by-id",
        text: "select id, name, price from items where id = $1",
        values: [id],
      });
      expect(result.rows).toEqual([{ id, name: `item ${id}`, price: (id * 1.5).toFixed(2) }]);
    }
    const types = await client.query({
      name: "types",
      text: "select $1::int4 as i, $2::timestamptz as t, $3::numeric as n, $4::int[] as a, $5::bytea as b",
      values: [42, new Date("2024-01-02T03:04:05Z"), "12.345", [1, 2, 3], Buffer.from([0, 255, 10])],
    });
    expect(types.rows[0]).toEqual({
      i: 42,
      t: new Date("2024-01-02T03:04:05Z"),
      n: "12.345",
      a: [1, 2, 3],
      b: Buffer.from([0, 255, 10]),
    });
    await client.end();
  });
});

describe("startup settings", () => {
  it("pass session settings from PGOPTIONS and the client's own, and say which were left out", async () => {
    const { stdout, stderr } = await run(
      "psql",
      [
        proxy.url(),
        "-Atc",
        "select current_setting('statement_timeout'), current_setting('work_mem'), current_user",
      ],
      { env: { ...process.env, PGOPTIONS: "-c statement_timeout=1234 -c work_mem=7MB -c role=pg_monitor" } },
    );
    expect(stdout.trim()).toBe("1234ms|7MB|postgres");
    expect(stderr).toMatch(
      /WARNING: {2}Portcullis did not pass these startup settings to the database: role/,
    );
    // An identity without masking may use any client_encoding: the agent passes its bytes on.
    const latin1 = await run("psql", [proxy.url(), "-Atc", "select 'caf' || chr(233)"], {
      env: { ...process.env, PGCLIENTENCODING: "LATIN1" },
      encoding: "buffer",
    });
    expect(latin1.stdout).toEqual(Buffer.from("caf\xe9\n", "latin1"));
    // node-postgres sends its timeouts as startup parameters.
    const client = new pg.Client({
      connectionString: proxy.url(),
      statement_timeout: 1500,
      lock_timeout: 700,
    });
    await client.connect();
    const { rows } = await client.query(
      "select current_setting('statement_timeout') as s, current_setting('lock_timeout') as l",
    );
    expect(rows).toEqual([{ s: "1500ms", l: "700ms" }]);
    await client.end();
  });
});

describe("postgres.js", () => {
  it("pipelines many queries on one connection and keeps their order", async () => {
    const sql = postgres(proxy.url(), { max: 1 });
    const ids = Array.from({ length: 100 }, (_, i) => i + 1);
    const results = await Promise.all(ids.map((id) => sql`select id, name from items where id = ${id}`));
    expect(results.map((r) => r[0]?.name)).toEqual(ids.map((id) => `item ${id}`));
    const inTx = await sql.begin(async (tx) => {
      await tx`insert into imports (id, name) values (6001, 'pipelined')`;
      return tx`select name from imports where id = 6001`;
    });
    expect(inTx[0]?.name).toBe("pipelined");
    await sql.end();
  });
});

describe("Prisma Client (adapter-pg) through the agent", () => {
  it("creates, filters, runs an interactive transaction and a raw query", async () => {
    const db = createDb(proxy.url(), { poolMax: 2 });
    try {
      await db.identity.create({ data: { name: "ada@example.com", displayName: "Ada", kind: "human" } });
      await db.identity.createMany({
        data: [
          { name: "bot@example.com", displayName: "Bot", kind: "service" },
          { name: "grace@example.com", displayName: "Grace", kind: "human" },
        ],
      });
      const humans = await db.identity.findMany({
        where: { kind: "human", name: { endsWith: "@example.com" } },
        orderBy: { name: "asc" },
      });
      expect(humans.map((h) => h.name)).toEqual(["ada@example.com", "grace@example.com"]);

      const group = await db.$transaction(async (tx) => {
        const g = await tx.group.create({ data: { name: "analysts" } });
        const ada = await tx.identity.findUniqueOrThrow({ where: { name: "ada@example.com" } });
        await tx.groupMember.create({ data: { groupId: g.id, identityId: ada.id } });
        return g;
      });
      await expect(
        db.$transaction(async (tx) => {
          await tx.group.create({ data: { name: "rolled-back" } });
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      expect(await db.group.findMany({ select: { name: true } })).toEqual([{ name: "analysts" }]);
      expect(await db.groupMember.count({ where: { groupId: group.id } })).toBe(1);

      const raw = await db.$queryRaw<{ n: bigint }[]>`select count(*) as n from items where price > ${100}`;
      expect(raw[0]?.n).toBe(34n);
      // And it really went through the agent, which saw and recorded Prisma's statements.
      expect(
        proxy.events.some(
          (e) => e.statementClass === "write" && e.tables.some((t) => t.includes("identities")),
        ),
      ).toBe(true);
    } finally {
      await db.$disconnect();
    }
  });
});

describe("cancel", () => {
  it("psql's Ctrl-C cancels pg_sleep(30) in under a second", async () => {
    const child = spawn("psql", [proxy.url(), "-c", "select pg_sleep(30)"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    await new Promise((r) => setTimeout(r, 500));
    const sent = Date.now();
    child.kill("SIGINT");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(Date.now() - sent).toBeLessThan(1000);
    expect(stderr).toMatch(/canceling statement due to user request/);
  });

  it("node-postgres and postgres.js cancel a running statement in under a second", async () => {
    const client = new pg.Client({ connectionString: proxy.url() });
    await client.connect();
    const query = new pg.Query("select pg_sleep(30)");
    const sleeping = new Promise((resolve, reject) => {
      query.on("end", resolve);
      query.on("error", reject);
    });
    client.query(query);
    await new Promise((r) => setTimeout(r, 300));
    let sent = Date.now();
    // pg's cancel API (untyped in @types/pg): an unconnected client opens a fresh connection and sends
    // the key data the agent issued.
    const canceller = new pg.Client({ connectionString: proxy.url() }) as pg.Client & {
      cancel(client: pg.Client, query: pg.Query): void;
    };
    canceller.cancel(client, query);
    await expect(sleeping).rejects.toThrow(/canceling statement due to user request/);
    expect(Date.now() - sent).toBeLessThan(1000);
    expect((await client.query("select 1 as ok")).rows).toEqual([{ ok: 1 }]);
    await client.end();

    const sql = postgres(proxy.url(), { max: 1 });
    const pending = sql`select pg_sleep(30)`.execute();
    await new Promise((r) => setTimeout(r, 300));
    sent = Date.now();
    pending.cancel();
    await expect(pending).rejects.toThrow(/canceling statement due to user request/);
    expect(Date.now() - sent).toBeLessThan(1000);
    await sql.end();
  });
});
