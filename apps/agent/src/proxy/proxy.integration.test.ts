// The proxy against the real local Postgres, driven by real clients (psql, node-postgres, postgres.js).
import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { type TAuditEvent, type TPolicySnapshot, ZAuditEvent } from "@portcullis/agent-protocol";
import { createTestDatabase } from "@portcullis/db/test-support";
import { initParser, PRODUCTION_BASELINE } from "@portcullis/policy";
import pg from "pg";
import { pino } from "pino";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Governor } from "../governor.ts";
import { startProxyServer, type TProxyServer } from "./server.ts";

const run = promisify(execFile);
const TOKEN = "pcat_test_token_for_dev";
const connectionId = randomUUID();
const devId = randomUUID();

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TProxyServer;
const events: TAuditEvent[] = [];
const governor = new Governor();

function snapshot(
  dbName: string,
  extraRules: TPolicySnapshot["connections"][number]["guardrails"] = [],
): TPolicySnapshot {
  return {
    revision: 1,
    issuedAt: new Date().toISOString(),
    credentialKeys: [],
    endedSessions: [],
    connections: [
      {
        id: connectionId,
        name: "shop",
        environment: "production",
        upstream: {
          host: "127.0.0.1",
          port: 5432,
          database: dbName,
          username: "postgres",
          password: null,
          tlsMode: "disable",
          ca: null,
        },
        credentials: [
          {
            identityId: devId,
            identityName: "dev@demo.local",
            identityKind: "human",
            groups: [],
            tokenHash: createHash("sha256").update(TOKEN).digest("hex"),
            expiresAt: null,
          },
        ],
        grants: [],
        guardrails: [
          ...PRODUCTION_BASELINE.map((r, i) => ({
            ...r,
            id: `baseline-${i}`,
            match: r.match as Record<string, unknown>,
          })),
          ...extraRules,
        ],
        maskingRules: [],
      },
    ],
  };
}

const url = (password = TOKEN) => `postgresql://dev%40demo.local:${password}@127.0.0.1:${proxy.port}/shop`;

beforeAll(async () => {
  await initParser();
  database = await createTestDatabase({ migrate: false });
  const setup = new pg.Client({ connectionString: database.url });
  await setup.connect();
  await setup.query(`
    create table customers (id serial primary key, full_name text not null, email text not null, created_at timestamptz default now(), balance numeric(12,2) default 0);
    create table orders (id serial primary key, customer_id int references customers(id), total numeric(10,2));
    insert into customers (full_name, email) select 'Customer ' || g, 'c' || g || '@example.com' from generate_series(1, 50) g;
  `);
  await setup.end();
  governor.update(snapshot(database.name));
  proxy = await startProxyServer({
    host: "127.0.0.1",
    port: 0,
    logger: pino({ level: "silent" }),
    hooks: {
      authenticate: (r) => governor.authenticate(r),
      decide: (s, sql) => governor.decide(s, sql),
      record: (e) => events.push(e),
    },
  });
});

afterAll(async () => {
  await proxy?.close();
  await database?.drop();
});

describe("proxy with real clients", () => {
  it("runs psql through the agent and records the statement", async () => {
    const { stdout } = await run("psql", [url(), "-tAc", "select count(*) from customers"]);
    expect(stdout.trim()).toBe("50");
    const event = events.find((e) => e.statement === "select count(*) from customers");
    expect(event).toMatchObject({
      decision: "allowed",
      ruleName: "Default: allow",
      actorName: "dev@demo.local",
      rowCount: 1,
      statementClass: "read",
      tables: ["customers"],
    });
  });

  it("refuses a wrong token with a clear FATAL and records the failure", async () => {
    const error = await run("psql", [url("wrong"), "-tAc", "select 1"]).catch((e: { stderr: string }) => e);
    expect((error as { stderr: string }).stderr).toMatch(
      /password authentication failed for user "dev@demo.local"/,
    );
    expect(events.some((e) => e.type === "auth_failure" && e.actorName === "dev@demo.local")).toBe(true);
  });

  it("blocks DROP TABLE over the simple protocol, naming the rule, and keeps the session usable", async () => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    await expect(client.query("DrOp /* sneaky */ TABLE customers")).rejects.toThrow(
      /Portcullis blocked this statement: Destructive DDL/,
    );
    const { rows } = await client.query("select count(*)::int as n from customers");
    expect(rows[0].n).toBe(50);
    await client.end();
    expect(events.find((e) => e.statement?.startsWith("DrOp"))).toMatchObject({
      decision: "blocked",
      ruleName: "Block destructive DDL",
    });
  });

  it("refuses text it cannot parse as a syntax error (42601), and a guardrail's refusal as one of privilege (42501)", async () => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    const extended = postgres(url(), { max: 1 });
    for (const query of [
      client.query("selec 1 frm customers"),
      extended.unsafe("selec 1 frm customers", [], { prepare: true }),
    ]) {
      const syntax = (await Promise.resolve(query).catch((e: unknown) => e)) as {
        code?: string;
        message?: string;
      };
      expect(syntax.code).toBe("42601");
      expect(syntax.message).toMatch(/could not be parsed \(syntax error at or near "selec"\)/);
    }
    const refused = (await client.query("drop table customers").catch((e: unknown) => e)) as {
      code?: string;
    };
    expect(refused.code).toBe("42501");
    expect((await client.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
    await client.end();
    await extended.end();
  });

  it("refuses what the baseline refuses however it is spelled (MERGE, constant WHEREs, set_config, EXPLAIN ANALYZE, SQL text, server files)", async () => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    const before = (await client.query("select count(*)::int as n from customers")).rows[0].n as number;
    for (const sql of [
      "merge into customers c using (select 1) s on true when matched then delete",
      "delete from customers where not false",
      "update customers set balance = 0 where 1 < 2",
      "select set_config('role', 'pg_monitor', false)",
      "select set_config('session_authorization', 'pg_monitor', false)",
      "explain analyze create table made_by_explain as select 1 as x",
      "select query_to_xml('select pg_reload_conf()', true, false, '')",
      "copy (select 1) to '/tmp/portcullis-proxy-test.copy'",
      "select lo_import('/etc/hostname')",
      "select pg_ls_waldir()",
    ])
      await expect(client.query(sql), sql).rejects.toMatchObject({ code: "42501" });
    const after = await client.query(
      "select count(*)::int as n, current_user = session_user as same, to_regclass('made_by_explain') is null as none from customers",
    );
    expect(after.rows).toEqual([{ n: before, same: true, none: true }]);
    await client.end();
  });

  it("blocks over the extended protocol and rolls back the pipeline like Postgres would", async () => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    await expect(client.query({ text: "drop table orders", values: [] })).rejects.toThrow(
      /Portcullis blocked/,
    );
    await expect(client.query("truncate customers", [])).rejects.toThrow(/Destructive DDL/);
    const { rows } = await client.query("select full_name from customers where id = $1", [7]);
    expect(rows).toEqual([{ full_name: "Customer 7" }]);
    await client.end();
  });

  it("a blocked statement inside a transaction aborts it, and nothing of it is committed", async () => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    await client.query("begin");
    await client.query("insert into orders (customer_id, total) values (1, 10)");
    await expect(client.query("drop table orders")).rejects.toThrow(/Portcullis blocked/);
    await expect(client.query("select 1")).rejects.toThrow(/current transaction is aborted/);
    await client.query("rollback");
    const { rows } = await client.query("select count(*)::int as n from orders");
    expect(rows[0].n).toBe(0);
    await client.end();
  });

  it("says in the COMMIT's event when the server rolled the transaction back instead", async () => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    const before = events.length;
    await client.query("begin");
    await client.query("insert into orders (customer_id, total) values (3, 7)");
    await expect(client.query("select * from no_such_table")).rejects.toThrow(/does not exist/);
    // Over the simple protocol, and (as JDBC and others send it) over the extended one.
    expect((await client.query("commit")).command).toBe("ROLLBACK");
    await client.query("begin");
    await expect(client.query("select 1/0")).rejects.toThrow(/division by zero/);
    expect((await client.query({ text: "commit", name: "commit-extended" })).command).toBe("ROLLBACK");
    await client.query("begin");
    await client.query("insert into orders (customer_id, total) values (3, 8)");
    await client.query("commit");
    const commits = events
      .slice(before)
      .filter((e) => e.statement?.toLowerCase() === "commit")
      .map((e) => e.message ?? "");
    expect(commits).toHaveLength(3);
    expect(commits[0]).toMatch(
      /^the transaction was rolled back: the server answered this COMMIT with ROLLBACK/,
    );
    expect(commits[1]).toMatch(/^the transaction was rolled back/);
    expect(commits[2]).toBe("");
    await client.query("delete from orders where customer_id = 3");
    await client.end();
  });

  it("supports multi-statement simple queries with one event per statement", async () => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    const before = events.length;
    await client.query(
      "insert into orders (customer_id, total) values (2, 5); select count(*) from orders; update orders set total = 6 where customer_id = 2",
    );
    const mine = events.slice(before).filter((e) => e.type === "statement");
    expect(mine.map((e) => [e.statementClass, e.rowCount])).toEqual([
      ["write", 1],
      ["read", 1],
      ["write", 1],
    ]);
    await client.end();
  });

  it("pipelines with postgres.js and binary-safe parameters", async () => {
    const sql = postgres(url(), { max: 1 });
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => sql`select ${i + 1}::int as n, email from customers where id = ${i + 1}`,
      ),
    );
    expect(results.map((r) => r[0]?.n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const errors = await Promise.allSettled([
      sql`select 1 as ok`,
      sql`drop table customers`,
      sql`select 2 as ok`,
    ]);
    expect(errors.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    await sql.end();
  });

  it("reports upstream errors as error events and keeps going", async () => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    await expect(client.query("select * from no_such_table")).rejects.toThrow(/does not exist/);
    expect(events.find((e) => e.statement === "select * from no_such_table")).toMatchObject({
      decision: "error",
    });
    await expect(client.query("select nope from customers where id = $1", [1])).rejects.toThrow(
      /does not exist/,
    );
    expect((await client.query("select 1 as x")).rows).toEqual([{ x: 1 }]);
    await client.end();
  });

  it("fits what a client shapes into its audit events: application_name, a statement cut inside a character, long names and errors", async () => {
    // An event that did not fit the control plane's schema would be refused and lost; a lone surrogate (half
    // an emoji) would make Postgres refuse the batch it is stored in.
    const client = new pg.Client({
      connectionString: url(),
      application_name: `${"x".repeat(250)}\u{1F600}`,
    });
    await client.connect();
    const tail = `tail ${randomUUID()}`;
    // The emoji straddles the 70,000th character, where the kept start of a long statement ends.
    const long = `select '${"a".repeat(70_000 - 8 - 1)}\u{1F600}${"a".repeat(40_000)}' as long -- ${tail}`;
    expect((await client.query(long)).rowCount).toBe(1);
    const table = "t".repeat(400); // the parser keeps 63 characters of a name, as Postgres does
    await expect(client.query(`select id from "${table}"`)).rejects.toThrow(/does not exist/);
    await expect(client.query(`select repeat('r', 20000)::int`)).rejects.toThrow(/invalid input syntax/);
    await client.end();
    const statement = events.find((e) => e.statement?.endsWith(tail));
    expect(statement).toBeDefined();
    const session = events.filter((e) => e.sessionId === statement!.sessionId);
    for (const event of session) {
      expect(ZAuditEvent.safeParse(event).error).toBeUndefined();
      for (const text of [event.statement, event.error, event.applicationName, ...event.tables])
        expect(text ?? "").not.toMatch(
          /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/,
        );
    }
    expect(statement!.applicationName).toBe("x".repeat(200));
    expect(statement!.statement!.length).toBeLessThanOrEqual(100_000);
    expect(statement!.statement).toContain(
      `the statement has ${long.length} characters, SHA-256 of its UTF-8 ${createHash("sha256").update(long).digest("hex")}`,
    );
    expect(statement!.statement!.startsWith(long.slice(0, 69_999))).toBe(true);
    expect(session.find((e) => e.statement?.startsWith("select id from"))?.tables).toEqual(["t".repeat(63)]);
    expect(session.find((e) => e.statement?.startsWith("select repeat"))?.error?.length).toBeLessThanOrEqual(
      10_000,
    );
  });

  it("puts a statement cut short by the database ending the session before the session's end", async () => {
    const client = new pg.Client({ connectionString: url() });
    client.on("error", () => undefined); // the connection ends under it
    await client.connect();
    const statement = `select pg_sleep(5) -- ${randomUUID()}`;
    const outcome = client.query(statement).then(
      () => null,
      (error: Error) => error,
    );
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    await expect
      .poll(
        async () =>
          (await admin.query("select 1 from pg_stat_activity where query = $1", [statement])).rowCount,
      )
      .toBe(1);
    await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where query = $1", [statement]);
    await admin.end();
    expect((await outcome)?.message).toMatch(/terminating connection/);
    const ran = events.find((e) => e.statement === statement);
    expect(ran).toMatchObject({ decision: "error" });
    // Other tests' sessions end too: wait for this one's end.
    const ofSession = () => events.filter((e) => e.sessionId === ran!.sessionId).map((e) => e.type);
    await expect.poll(ofSession).toContain("session_end");
    expect(ofSession()).toEqual(["session_start", "statement", "session_end"]);
  });

  it("streams COPY out and in through psql", async () => {
    const { stdout } = await run("psql", [
      url(),
      "-tAc",
      "copy (select id from customers order by id limit 3) to stdout",
    ]);
    expect(stdout.trim().split("\n")).toEqual(["1", "2", "3"]);
    await run("bash", [
      "-c",
      `printf '1\\t7.50\\n2\\t8.25\\n' | psql "${url()}" -c "copy orders (customer_id, total) from stdin"`,
    ]);
    const { stdout: count } = await run("psql", [
      url(),
      "-tAc",
      "select count(*) from orders where total in (7.50, 8.25)",
    ]);
    expect(count.trim()).toBe("2");
  });

  it("routes a cancel request to the right backend", async () => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    const started = Date.now();
    const sleeping = client.query("select pg_sleep(30)");
    await new Promise((r) => setTimeout(r, 300));
    const canceller = new pg.Client({ connectionString: url() });
    await canceller.connect();
    // node-postgres sends CancelRequest on a new connection with the key data the agent issued.
    const pid = (client as unknown as { processID: number }).processID;
    const secret = (client as unknown as { secretKey: number }).secretKey;
    const { Connection } = pg as unknown as {
      Connection: new () => {
        connect(port: number, host: string): void;
        on(e: string, f: () => void): void;
        cancel(pid: number, key: number): void;
        end(): void;
      };
    };
    const conn = new Connection();
    conn.on("connect", () => {
      conn.cancel(pid, secret);
    });
    conn.connect(proxy.port, "127.0.0.1");
    await expect(sleeping).rejects.toThrow(/canceling statement due to user request/);
    expect(Date.now() - started).toBeLessThan(3000);
    await canceller.end();
    await client.end();
  });

  it("stops the statement a session is running when the session is ended", async () => {
    const application = `ended-${randomUUID().slice(0, 8)}`;
    const client = new pg.Client({ connectionString: url(), application_name: application });
    client.on("error", () => undefined);
    await client.connect();
    const sleeping = client.query("select pg_sleep(30)").then(
      () => "finished",
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 300));
    const ended = proxy.terminateSessions(
      (info) => info.applicationName === application,
      "terminating connection: an administrator ended this session",
    );
    expect(ended).toBe(1);
    expect(await sleeping).toMatch(/an administrator ended this session|Connection terminated/);
    // The database's backend does not sleep on for 30 s: the statement was cancelled, not just abandoned.
    const direct = new pg.Client({ connectionString: database.url });
    await direct.connect();
    const stillRunning = async () =>
      (
        await direct.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where application_name = $1 and state = 'active'",
          [application],
        )
      ).rows[0]!.n;
    await expect.poll(stillRunning, { timeout: 3_000 }).toBe(0);
    await direct.end();
    await client.end().catch(() => undefined);
    // What the statement came to is in the audit, before the session's end.
    const ofSession = () =>
      events
        .filter((e) => e.applicationName === application)
        .map((e) => [e.type, e.error?.slice(0, 5) ?? null]);
    await expect.poll(ofSession).toContainEqual(["session_end", null]);
    expect(ofSession()).toEqual([
      ["session_start", null],
      ["statement", "57014"],
      ["session_end", null],
    ]);
  });

  it("closes a client that sends garbage without disturbing other sessions", async () => {
    const healthy = new pg.Client({ connectionString: url() });
    await healthy.connect();
    const net = await import("node:net");
    for (const payload of [
      Buffer.from([0, 0, 0, 3, 1, 2, 3]),
      Buffer.from("GET / HTTP/1.1\r\n\r\n"),
      Buffer.alloc(64, 0xff),
    ]) {
      const answer = await new Promise<string>((resolve) => {
        let received = Buffer.alloc(0);
        const s = net.connect(proxy.port, "127.0.0.1", () => s.write(payload));
        s.on("data", (d: Buffer) => (received = Buffer.concat([received, d])));
        s.on("close", () => resolve(received.toString("latin1")));
        s.on("error", () => resolve(received.toString("latin1")));
        setTimeout(() => resolve("still open"), 3000);
      });
      // A FATAL ErrorResponse (type E) with SQLSTATE 08P01, then the agent closes the connection.
      expect(answer.startsWith("E")).toBe(true);
      expect(answer).toContain("08P01");
    }
    expect((await healthy.query("select 42 as x")).rows).toEqual([{ x: 42 }]);
    await healthy.end();
  });
});
