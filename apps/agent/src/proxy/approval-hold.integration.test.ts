// A statement that needs an approval is held in its session (the client gets a NOTICE and waits) while
// other sessions carry on; approved, it runs and the client gets its result; denied or timed out, the
// client gets an error naming the decider and nothing ran. The decision source here is a test hook; the
// control plane's approvals plug into the same hook.
import type { Socket } from "node:net";
import { createTestDatabase } from "@portcullis/db/test-support";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  errorsIn,
  frontend,
  localUpstream,
  rawSession,
  startTestProxy,
  type TTestProxy,
} from "./test-harness.ts";
import type { TApprovalDecision } from "./types.ts";
import { parseMessage, queryMessage } from "./wire.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TTestProxy;
const requests: string[] = [];
/** Statements whose request was withdrawn, with the reason. */
const withdrawn: string[] = [];

/** Decides by a marker in the statement, after a delay, like a person would. */
function decideLater(statement: string): Promise<TApprovalDecision> {
  const after = (ms: number, d: TApprovalDecision) =>
    new Promise<TApprovalDecision>((r) => setTimeout(() => r(d), ms));
  if (statement.includes("approve-me"))
    return after(400, { approved: true, decidedBy: "admin@demo.local", reason: "looks fine" });
  // Approved the first time it is asked for, denied after.
  if (statement.includes("approve-once"))
    return requests.filter((r) => r === statement).length === 1
      ? after(200, { approved: true, decidedBy: "admin@demo.local", reason: "once" })
      : after(200, { approved: false, decidedBy: "admin@demo.local", reason: "not again" });
  // Nobody decides while the test looks (its client goes away first).
  if (statement.includes("walk-away"))
    return after(20_000, { approved: false, decidedBy: null, reason: "no decision within 20 s" });
  if (statement.includes("deny-me"))
    return after(200, { approved: false, decidedBy: "admin@demo.local", reason: "not now" });
  return after(200, { approved: false, decidedBy: null, reason: "no decision within 0.2 s" });
}

const url = () => proxy.url();

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  const setup = new pg.Client({ connectionString: database.url });
  await setup.connect();
  await setup.query(
    "create table items (id int primary key, v int, note text); insert into items values (1, 0, 'approve-me'), (2, 0, 'deny-me'), (3, 0, 'wait'), (4, 0, 'approve-once')",
  );
  await setup.end();
  proxy = await startTestProxy(
    { shop: localUpstream(database.name) },
    {
      policy: {
        guardrails: [
          {
            id: "writes",
            name: "Writes need approval",
            priority: 1,
            action: "require_approval",
            message: "writes need an approval",
            match: { classes: ["write"] },
          },
        ],
      },
      hooks: {
        requestApproval: (_session, request) => {
          requests.push(request.statement);
          return {
            link: `http://127.0.0.1:3000/approvals/${requests.length}`,
            decision: decideLater(request.statement),
            withdraw: (reason) => withdrawn.push(`${request.statement} (${reason})`),
          };
        },
      },
    },
  );
});

afterAll(async () => {
  await proxy?.close();
  await database?.drop();
});

async function valueOf(id: number): Promise<number> {
  const c = new pg.Client({ connectionString: database.url });
  await c.connect();
  const { rows } = await c.query<{ v: number }>("select v from items where id = $1", [id]);
  await c.end();
  return rows[0]!.v;
}

describe("statements held for approval", () => {
  it("runs an approved statement, tells the client where to approve, and never blocks other sessions", async () => {
    const waiting = new pg.Client({ connectionString: url() });
    const notices: string[] = [];
    waiting.on("notice", (n) => notices.push(`${n.message} ${n.detail ?? ""}`));
    await waiting.connect();
    const other = new pg.Client({ connectionString: url() });
    await other.connect();

    const started = Date.now();
    const held = waiting.query("update items set v = v + 1 where note = 'approve-me'");
    // While one session waits for its approver, another runs freely.
    const otherStarted = Date.now();
    for (let i = 0; i < 20; i++) await other.query("select count(*) from items");
    expect(Date.now() - otherStarted).toBeLessThan(350);

    const result = await held;
    expect(result.rowCount).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(notices.join()).toMatch(
      /needs an approval \(Writes need approval\).*Approve or deny it at http:\/\/127\.0\.0\.1:3000\/approvals\/\d+/,
    );
    expect(await valueOf(1)).toBe(1);
    expect(proxy.events.find((e) => e.statement?.includes("approve-me"))).toMatchObject({
      decision: "approved",
      message: "approved by admin@demo.local",
      rowCount: 1,
    });
    await Promise.all([waiting.end(), other.end()]);
  });

  it("refuses a denied statement, naming the decider and reason, and nothing runs", async () => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    await expect(client.query("update items set v = v + 1 where note = 'deny-me'")).rejects.toThrow(
      /denied by admin@demo.local: not now/,
    );
    expect(await valueOf(2)).toBe(0);
    expect((await client.query("select 1 as ok")).rows).toEqual([{ ok: 1 }]);
    expect(proxy.events.find((e) => e.statement?.includes("deny-me"))).toMatchObject({ decision: "denied" });
    await client.end();
  });

  it("refuses a statement nobody decided in time", async () => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    await expect(client.query("update items set v = 5 where note = 'wait'")).rejects.toThrow(
      /not given in time: no decision/,
    );
    expect(await valueOf(3)).toBe(0);
    await client.end();
  });

  it("withdraws the request of a held statement whose client goes away, and nothing runs", async () => {
    // Approvers are not left deciding on a statement nobody waits for: whether the client closes its
    // socket outright or sends Terminate behind the held statement.
    for (const [note, leave] of [
      ["walk-away-destroy", (socket: Socket) => socket.destroy()],
      ["walk-away-terminate", (socket: Socket) => socket.end(Buffer.from([0x58, 0, 0, 0, 4]))],
    ] as const) {
      const session = await rawSession(proxy.port);
      session.socket.write(queryMessage(`update items set v = 9 where id = 3 and note <> '${note}'`));
      await session.until("N");
      leave(session.socket);
      await expect.poll(() => withdrawn.filter((w) => w.includes(note)), { timeout: 3000 }).toHaveLength(1);
    }
    expect(withdrawn.join("\n")).toMatch(/walk-away-destroy.*\(client/);
    expect(await valueOf(3)).toBe(0);
  });

  it("refuses a held statement its client cancels (57014), withdraws its request, and the session goes on", async () => {
    const sql = postgres(url(), { max: 1, onnotice: () => undefined });
    const query = sql.unsafe("update items set v = 7 where id = 3 and note <> 'walk-away-cancel'");
    const outcome = query.then(
      () => "ran",
      (error: { code?: string; message: string }) => `${error.code}: ${error.message}`,
    );
    await expect.poll(() => requests.some((r) => r.includes("walk-away-cancel"))).toBe(true);
    query.cancel();
    expect(await outcome).toBe("57014: canceling statement due to user request");
    expect(withdrawn.filter((w) => w.includes("walk-away-cancel"))).toEqual([
      "update items set v = 7 where id = 3 and note <> 'walk-away-cancel' (the client cancelled it)",
    ]);
    expect(await sql`select 1 as ok`).toEqual([{ ok: 1 }]);
    expect(await valueOf(3)).toBe(0);
    expect(proxy.events.find((e) => e.statement?.includes("walk-away-cancel"))).toMatchObject({
      decision: "denied",
      message: "cancelled by the client while it waited for an approval",
    });
    await sql.end();
  });

  it("holds an extended-protocol statement with the pipeline behind it, in order", async () => {
    const sql = postgres(url(), { max: 1, onnotice: () => undefined });
    // The hold happens at Parse, before Bind, so the approver sees the statement text (here with literals).
    const [updated, after, denied] = await Promise.allSettled([
      sql.unsafe("update items set v = v + 10 where note = 'approve-me'", [], { prepare: true }),
      sql.unsafe("select v from items where id = $1", [1], { prepare: true }),
      sql.unsafe("update items set v = 99 where note = 'deny-me'", [], { prepare: true }),
    ]);
    expect(updated).toMatchObject({ status: "fulfilled", value: { count: 1 } });
    expect(after).toMatchObject({ status: "fulfilled", value: [{ v: 11 }] });
    expect(denied.status).toBe("rejected");
    expect(await valueOf(2)).toBe(0);
    await sql.end();
  });
});

describe("an approval is not an exemption", () => {
  let guarded: TTestProxy;
  const asked: string[] = [];

  beforeAll(async () => {
    const setup = new pg.Client({ connectionString: database.url });
    await setup.connect();
    await setup.query("create table vault (id int primary key, v int, secret text, note text)");
    await setup.query("insert into vault values (1, 0, 'tok_live_vault_secret', 'approve-me')");
    await setup.end();
    guarded = await startTestProxy(
      { shop: localUpstream(database.name) },
      {
        policy: {
          guardrails: [
            {
              id: "writes",
              name: "Writes need approval",
              priority: 2,
              action: "require_approval",
              message: "writes need an approval",
              match: { classes: ["write"] },
            },
            {
              id: "no-ddl",
              name: "No schema changes",
              priority: 1,
              action: "block",
              message: "schema changes are not allowed",
              match: { classes: ["ddl"] },
            },
          ],
          maskingRules: [
            {
              id: "secret",
              name: "Mask vault.secret",
              columnPattern: "vault.secret",
              detector: null,
              strategy: "redact",
              exemptIdentities: [],
              exemptGroups: [],
            },
          ],
        },
        hooks: {
          requestApproval: (_session, request) => {
            asked.push(request.statement);
            return { link: null, decision: decideLater(request.statement) };
          },
        },
      },
    );
  });

  afterAll(async () => {
    await guarded?.close();
  });

  it("masks what an approved statement returns, and what runs beside it", async () => {
    const client = new pg.Client({ connectionString: guarded.url() });
    client.on("notice", () => undefined);
    await client.connect();
    const returned = await client.query(
      "update vault set v = v + 1 where note = 'approve-me' returning secret, upper(secret) as u",
    );
    expect(JSON.stringify(returned.rows)).not.toMatch(/tok_live/i);
    const both = (await client.query(
      "select upper(secret) as u from vault; update vault set v = v + 1 where note = 'approve-me'",
    )) as unknown as pg.QueryResult[];
    expect(JSON.stringify(both[0]!.rows)).not.toMatch(/tok_live/i);
    await client.end();
  });

  it("refuses a query string with a blocked statement behind one that needs an approval", async () => {
    const client = new pg.Client({ connectionString: guarded.url() });
    await client.connect();
    const before = asked.length;
    await expect(
      client.query("update vault set v = v + 1 where note = 'approve-me'; drop table vault"),
    ).rejects.toThrow(/schema changes are not allowed/);
    expect(asked.length).toBe(before); // nobody was asked to approve what cannot run
    expect((await client.query("select count(*)::int as n from vault")).rows).toEqual([{ n: 1 }]);
    await client.end();
  });

  it("refuses a held statement that the policy blocks by the time it is approved", async () => {
    const client = new pg.Client({ connectionString: guarded.url() });
    client.on("notice", () => undefined);
    await client.connect();
    const held = client.query("update vault set v = v + 100 where note = 'approve-me'");
    await new Promise((r) => setTimeout(r, 100));
    // An emergency freeze while the approver is deciding.
    guarded.updatePolicy({
      guardrails: [
        {
          id: "freeze",
          name: "Freeze",
          priority: 1,
          action: "block",
          message: "writes are frozen",
          match: { classes: ["write"] },
        },
      ],
    });
    await expect(held).rejects.toThrow(/writes are frozen/);
    expect((await client.query("select v from vault")).rows[0].v).toBeLessThan(100);
    await client.end();
  });

  it("asks again each time a prepared statement an approver let through runs again (drivers' statement caches)", async () => {
    const sql = postgres(url(), { max: 1, onnotice: () => undefined });
    const statement = "update items set v = v + $1 where note = 'approve-me'";
    const asked = () => requests.filter((r) => r === statement).length;
    const before = asked();
    const start = await valueOf(1);
    // postgres.js prepares the text once, under a name, and then only binds and executes it.
    await sql.unsafe(statement, [1], { prepare: true });
    await sql.unsafe(statement, [1], { prepare: true });
    expect(asked() - before).toBe(2);
    expect(await valueOf(1)).toBe(start + 2);
    // Approved once, denied the second time: the second run is refused and changes nothing.
    const once = "update items set v = v + $1 where note = 'approve-once'";
    await sql.unsafe(once, [1], { prepare: true });
    await expect(sql.unsafe(once, [1], { prepare: true })).rejects.toThrow(
      /denied by admin@demo.local: not again/,
    );
    expect(await valueOf(4)).toBe(1);
    // The session goes on.
    expect(await sql.unsafe("select v from items where id = $1", [4], { prepare: true })).toEqual([{ v: 1 }]);
    await sql.end();
  });

  it("asks again each time an SQL EXECUTE runs a PREPARE an approver let through", async () => {
    const client = new pg.Client({ connectionString: url() });
    client.on("notice", () => undefined);
    await client.connect();
    // The policy judges `EXECUTE` alone as harmless: it is judged by the UPDATE it runs.
    await client.query(`prepare "approve-once-p" as update items set v = v + 1 where note = 'wait'`);
    const start = await valueOf(3);
    const execute = `execute "approve-once-p"`;
    await client.query(execute);
    await expect(client.query(execute)).rejects.toThrow(/denied by admin@demo.local: not again/);
    expect(await valueOf(3)).toBe(start + 1);
    expect(requests.filter((r) => r === execute)).toHaveLength(2);
    expect(proxy.events.filter((e) => e.statement === execute).map((e) => e.decision)).toEqual([
      "approved",
      "denied",
    ]);
    await client.end();
  });

  it("judges an EXECUTE pipelined right behind its PREPARE, and one inside EXPLAIN ANALYZE, by what it runs", async () => {
    const session = await rawSession(proxy.port);
    const prepare = `prepare "approve-me-q" as update items set v = v + 1 where note = 'wait'`;
    const execute = `execute "approve-me-q"`;
    const explained = `explain analyze execute "approve-me-q"`;
    const start = await valueOf(3);
    // The PREPARE is held; the EXECUTEs behind it are judged while it is still on its way to the server.
    session.socket.write(
      Buffer.concat([queryMessage(prepare), queryMessage(execute), queryMessage(explained)]),
    );
    expect(errorsIn(await session.until("Z", 3, 5_000))).toEqual([]);
    expect(requests).toEqual(expect.arrayContaining([prepare, execute, explained]));
    expect(await valueOf(3)).toBe(start + 2);
    session.socket.destroy();
  });

  it("judges an EXECUTE by every statement its name may stand for: prepared later, refused again, deallocated by a skipped statement", async () => {
    const session = await rawSession(proxy.port);
    const asked = (statement: string) => requests.filter((r) => r === statement).length;
    // A protocol-level statement that EXECUTEs a name prepared (and approved) only later: judged at each Bind.
    await session.exchange(parseMessage("runs_later", `execute "approve-me-later"`), frontend.sync());
    await session.exchange(
      queryMessage(`prepare "approve-me-later" as update items set v = v + 1 where note = 'approve-me'`),
    );
    const start = await valueOf(1);
    for (let i = 0; i < 2; i++)
      expect(
        errorsIn(
          await session.exchange(frontend.bind("", "runs_later"), frontend.execute(""), frontend.sync()),
        ),
      ).toEqual([]);
    expect(asked(`execute "approve-me-later"`)).toBe(2);
    expect(await valueOf(1)).toBe(start + 2);
    // A Parse of the name the server will refuse (the name is taken), pipelined: the EXECUTE is judged by both.
    await session.exchange(
      queryMessage("prepare taken as update items set v = v + 1 where note = 'approve-me'"),
    );
    session.socket.write(
      Buffer.concat([parseMessage("taken", "select 1"), frontend.sync(), queryMessage("execute taken")]),
    );
    await session.until("Z", 2, 5_000);
    expect(asked("execute taken")).toBe(1);
    // A DEALLOCATE the error before it skips: the EXECUTE behind it is judged by the statement still there.
    await session.exchange(
      queryMessage("prepare kept as update items set v = v + 1 where note = 'approve-me'"),
    );
    session.socket.write(
      Buffer.concat([queryMessage("select 1/0; deallocate kept"), queryMessage("execute kept")]),
    );
    await session.until("Z", 2, 5_000);
    expect(asked("execute kept")).toBe(1);
    session.socket.destroy();
  });

  it("lets one approval cover a batch of Binds before one Sync, as a JDBC executeBatch sends it", async () => {
    const statement = "update items set v = v + 1 where note = 'approve-me' and id > 0";
    const asked = () => requests.filter((r) => r === statement).length;
    const start = await valueOf(1);
    const session = await rawSession(proxy.port);
    const run = frontend.bind("", "batched");
    const batch = [run, frontend.execute(""), run, frontend.execute(""), run, frontend.execute("")];
    await session.exchange(parseMessage("batched", statement), ...batch, frontend.sync());
    expect(asked()).toBe(1);
    expect(await valueOf(1)).toBe(start + 3);
    // The next batch is another execution: asked again.
    expect(errorsIn(await session.exchange(run, frontend.execute(""), frontend.sync()))).toEqual([]);
    expect(asked()).toBe(2);
    expect(await valueOf(1)).toBe(start + 4);
    session.socket.destroy();
  });

  it("a statement approved while the server skips to Sync after an error is skipped too, and the session goes on", async () => {
    const session = await rawSession(proxy.port);
    session.socket.write(
      Buffer.concat([
        parseMessage("", "select 1/0"),
        frontend.bind("", ""),
        frontend.execute(""),
        frontend.frame("H", Buffer.alloc(0)),
        queryMessage("update items set v = v + 100 where note = 'approve-me'"),
        frontend.sync(),
      ]),
    );
    const start = await valueOf(1);
    await session.until("Z", 1, 5_000);
    const next = await session.exchange(queryMessage("select 2 as two"));
    expect(errorsIn(next)).toEqual([]);
    expect(session.closed).toBe(false);
    expect(await valueOf(1)).toBe(start);
    session.socket.destroy();
  });
});
