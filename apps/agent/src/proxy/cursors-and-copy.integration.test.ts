// What a name stands for can change under the agent: a cursor declared again, a statement prepared again, a
// cursor closed and reopened by code in the database. FETCH and EXECUTE are masked by what they ran, never by a
// description taken while the name meant something else. And COPY rows reach the client only through the
// content detectors, read as Postgres wrote them (option spellings, client encodings, domains, generated
// columns). Each case leaked a raw value, or broke a client, before its fix.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createTestDatabase } from "@portcullis/db/test-support";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backendMessages,
  frontend,
  localUpstream,
  rawSession,
  startTestProxy,
  type TTestProxy,
} from "./test-harness.ts";
import { parseMessage, queryMessage } from "./wire.ts";

const run = promisify(execFile);
const ADA = { email: "ada.lovelace@example.com", ssn: "078-05-1120" };
const REVERSED_SSN = [...ADA.ssn].reverse().join("");

const MASKING_RULES = [
  ...(["customers.email", "customers.ssn", "customers.api_token"] as const).map((columnPattern, i) => ({
    id: `m${i}`,
    name: `Mask ${columnPattern}`,
    columnPattern,
    detector: null,
    strategy: "partial" as const,
    exemptIdentities: [],
    exemptGroups: [],
  })),
  ...["email", "us_ssn"].map((detector) => ({
    id: `d-${detector}`,
    name: `Detect ${detector}`,
    columnPattern: null,
    detector,
    strategy: "redact" as const,
    exemptIdentities: [],
    exemptGroups: [],
  })),
];

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TTestProxy;

const executeAtMost = (portal: string, rows: number) => {
  const limit = Buffer.alloc(4);
  limit.writeInt32BE(rows);
  return frontend.frame("E", Buffer.concat([frontend.cstr(portal), limit]));
};
const describePortal = (portal: string) => frontend.frame("D", Buffer.from(`P${portal}\0`));

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  const setup = new pg.Client({ connectionString: database.url });
  await setup.connect();
  await setup.query(`
    create table customers (id int primary key, full_name text, email text, ssn text, api_token text);
    insert into customers values
      (1, 'Ada Lovelace', '${ADA.email}', '${ADA.ssn}', 'sk_live_51Adaabcdef0123456789abcd'),
      (2, 'Charles Babbage', 'charles@example.com', '219-09-9999', 'sk_live_xyz');
    -- Closes the caller's cursor and opens one of the same name over masked data.
    create function swap_cursor(name text) returns text language plpgsql as $$
      declare c refcursor := name;
      begin
        execute format('close %I', name);
        open c for select reverse(ssn) as r from customers;
        return 'swapped';
      end $$;
    -- Code that runs without being named in the statement: a view's function and a trigger.
    create view swapper as select swap_cursor('c') as s;
    create table audit_log (id int);
    create function swap_on_insert() returns trigger language plpgsql as $$
      begin perform swap_cursor('c'); return new; end $$;
    create trigger swap_on_insert before insert on audit_log for each row execute function swap_on_insert();
    -- No column rules: only the detectors protect these.
    create domain email_address as text;
    create table contacts (id int, contact email_address, plain text);
    insert into contacts values (1, '${ADA.email}', '${ADA.email}');
    create table notes (id bigint, note text);
    insert into notes values (5, '${ADA.email}, call after 5pm');
    create table people (id int, ssn text);
    insert into people values (1, '078051120');
    create table refs (id int, order_ref text, doubled int generated always as (id * 2) stored);
    insert into refs (id, order_ref) values (1, '123456789');
  `);
  await setup.end();
  proxy = await startTestProxy(
    { shop: localUpstream(database.name) },
    { policy: { maskingRules: MASKING_RULES } },
  );
});

afterAll(async () => {
  await proxy?.close();
  await database?.drop();
});

describe("FETCH and EXECUTE portals", () => {
  it("rows read by Executing a cursor declared in SQL are on record, masked", async () => {
    const session = await rawSession(proxy.port);
    await session.exchange(queryMessage("begin; declare sqlc cursor for select ssn from customers"));
    const before = proxy.events.length;
    // Postgres runs a cursor declared in SQL as a portal of its name: the agent never saw it bound.
    const read = await session.exchange(executeAtMost("sqlc", 0), frontend.sync());
    expect(backendMessages(read).filter((m) => m.type === "D")).toHaveLength(2);
    expect(read.toString("latin1")).not.toContain(ADA.ssn);
    expect(proxy.events.slice(before)).toMatchObject([
      {
        type: "statement",
        statement: expect.stringContaining('Execute of portal "sqlc"'),
        ruleId: "builtin-unknown-portal",
        rowCount: 2,
      },
    ]);
    session.socket.destroy();
  });

  it("a portal's later Executes return what its first one read, masked as that was", async () => {
    const cases: [string, string, string][] = [
      [
        "begin; declare c cursor for select reverse(ssn) as r from customers",
        "fetch all from c",
        "close c; declare c cursor for select 'harmless'::text as r",
      ],
      [
        "begin; prepare q as select reverse(ssn) as r from customers",
        "execute q",
        "deallocate q; prepare q as select 'harmless'::text as r",
      ],
    ];
    for (const [setupSql, statement, redefine] of cases) {
      const session = await rawSession(proxy.port);
      await session.exchange(queryMessage(setupSql));
      const first = await session.exchange(
        parseMessage("", statement),
        frontend.bind("P", ""),
        describePortal("P"),
        executeAtMost("P", 1),
        frontend.sync(),
      );
      expect(backendMessages(first).filter((m) => m.type === "D")).toHaveLength(1);
      await session.exchange(queryMessage(redefine));
      const rest = await session.exchange(executeAtMost("P", 0), frontend.sync());
      expect(
        backendMessages(rest).filter((m) => m.type === "D"),
        statement,
      ).toHaveLength(1);
      expect(rest.toString(), statement).not.toContain("9999-90-912");
      session.socket.destroy();
    }
  });

  it("a FETCH statement's columns are never taken from an earlier run", async () => {
    for (const redeclared of [
      "select id, ssn, api_token from customers",
      "select id, reverse(ssn) from customers",
    ]) {
      const session = await rawSession(proxy.port);
      await session.exchange(queryMessage("begin; declare c cursor for select id, full_name from customers"));
      // As pgjdbc runs a named statement: a Describe of its first portal only, then Bind and Execute.
      await session.exchange(
        parseMessage("S_1", "fetch all from c"),
        frontend.bind("", "S_1"),
        describePortal(""),
        frontend.execute(""),
        frontend.sync(),
      );
      await session.exchange(queryMessage(`close c; declare c cursor for ${redeclared}`));
      const again = await session.exchange(frontend.bind("", "S_1"), frontend.execute(""), frontend.sync());
      expect(
        backendMessages(again).filter((m) => m.type === "D"),
        redeclared,
      ).toHaveLength(2);
      expect(again.toString(), redeclared).not.toContain("sk_live_51Ada");
      expect(again.toString(), redeclared).not.toContain(REVERSED_SSN);
      session.socket.destroy();
    }
  });

  it("forgets declared cursors once the database's code may have run: a view's function, a trigger", async () => {
    for (const trigger of ["select * from swapper", "insert into audit_log values (1)"]) {
      const session = await rawSession(proxy.port);
      await session.exchange(queryMessage("begin; declare c cursor for select 'harmless'::text as r"));
      await session.exchange(queryMessage(trigger));
      const fetched = await session.exchange(queryMessage("fetch all from c"));
      expect(
        backendMessages(fetched).filter((m) => m.type === "D"),
        trigger,
      ).toHaveLength(2);
      expect(fetched.toString(), trigger).not.toContain(REVERSED_SSN);
      session.socket.destroy();
    }
  });

  it("never plans a FETCH from a cursor it does not know, or one it knew by an older Describe", async () => {
    // texteq is a built-in the agent does not list: the DECLARE counts as running code, and c stays unknown.
    const unknown = await rawSession(proxy.port);
    await unknown.exchange(
      queryMessage("begin; declare c cursor for select id, full_name from customers where texteq('a', 'a')"),
    );
    await unknown.exchange(
      parseMessage("S_1", "fetch all from c"),
      frontend.bind("", "S_1"),
      describePortal(""),
      frontend.execute(""),
      frontend.sync(),
    );
    await unknown.exchange(
      queryMessage(
        "close c; declare c cursor for select id, reverse(ssn) as full_name from customers where texteq('a', 'a')",
      ),
    );
    const again = await unknown.exchange(frontend.bind("", "S_1"), frontend.execute(""), frontend.sync());
    expect(backendMessages(again).filter((m) => m.type === "D")).toHaveLength(2);
    expect(again.toString()).not.toContain(REVERSED_SSN);
    unknown.socket.destroy();
    // A cursor described by its name, then declared again under it, and executed by that name.
    const byName = await rawSession(proxy.port);
    await byName.exchange(queryMessage("begin; declare c cursor for select id, full_name from customers"));
    await byName.exchange(describePortal("c"), frontend.sync());
    await byName.exchange(
      queryMessage("close c; declare c cursor for select id, reverse(ssn) as full_name from customers"),
    );
    const executed = await byName.exchange(frontend.execute("c"), frontend.sync());
    expect(executed.toString()).not.toContain(REVERSED_SSN);
    byName.socket.destroy();
  });

  it("forgets the other cursors once a FETCH ran: a row-level security policy's function may have swapped one", async () => {
    // Superusers bypass row-level security: this session reaches the database as a role of its own.
    const role = `pc_rls_${process.pid}`;
    const setup = new pg.Client({ connectionString: database.url });
    await setup.connect();
    await setup.query(`
      create table guarded (id int);
      insert into guarded values (1);
      alter table guarded enable row level security;
      create policy swap on guarded using (swap_cursor('c') = 'swapped');
      create role ${role} login;
      grant select on all tables in schema public to ${role};
    `);
    const asRole = await startTestProxy(
      { shop: { ...localUpstream(database.name), username: role } },
      { policy: { maskingRules: MASKING_RULES } },
    );
    try {
      const session = await rawSession(asRole.port);
      await session.exchange(queryMessage("begin; declare c cursor for select 'harmless'::text as r"));
      await session.exchange(queryMessage("declare d cursor for select id from guarded"));
      await session.exchange(queryMessage("fetch all from d"));
      const fetched = await session.exchange(queryMessage("fetch all from c"));
      expect(backendMessages(fetched).filter((m) => m.type === "D")).toHaveLength(2);
      expect(fetched.toString()).not.toContain(REVERSED_SSN);
      session.socket.destroy();
    } finally {
      await asRole.close();
      await setup.query(`drop table guarded; drop owned by ${role}; drop role ${role}`);
      await setup.end();
    }
  });

  it("keeps quoted and unquoted cursor names apart", async () => {
    const session = await rawSession(proxy.port);
    const out = await session.exchange(
      queryMessage(
        `begin; declare "C" cursor for select reverse(ssn) as r from customers; declare c cursor for select 'harmless'::text as r; fetch all from "C"`,
      ),
    );
    expect(out.toString()).not.toContain(REVERSED_SSN);
    session.socket.destroy();
  });
});

describe("COPY rows through the content detectors", () => {
  const psql = (sql: string, env: Record<string, string> = {}) =>
    run("psql", [proxy.url(), "-X", "-v", "ON_ERROR_STOP=1", "-c", sql], {
      env: { ...process.env, ...env },
      encoding: "buffer",
    }).catch((error: { stdout: Buffer; stderr: Buffer }) => error);

  it("scans a domain over text, reads options given as numbers, hints an alias by its column", async () => {
    for (const sql of [
      "copy contacts to stdout",
      "copy notes to stdout (format csv, delimiter 1)",
      "copy notes to stdout (format csv, quote 5)",
      "copy (select id, ssn as x from people) to stdout",
    ]) {
      const { stdout } = await psql(sql);
      expect(stdout.length, sql).toBeGreaterThan(0);
      expect(stdout.toString(), sql).not.toContain(ADA.email);
      expect(stdout.toString(), sql).not.toContain("078051120");
    }
  });

  it("leaves generated columns out of a table's COPY columns, so the others keep their names", async () => {
    // order_ref is no SSN: hinted by its own name, as in results, its value stays.
    const { stdout } = await psql("copy refs to stdout");
    expect(stdout.toString()).toBe("1\t123456789\n");
  });

  it("speaks UTF-8 only with a masked identity: another client_encoding is refused, at login or when set", async () => {
    const login = await psql("copy (select id, note from notes) to stdout", { PGCLIENTENCODING: "WIN1252" });
    expect(login.stdout.toString("latin1")).not.toContain(ADA.email);
    expect(login.stderr.toString()).toMatch(/UTF-8 only, and client_encoding is WIN1252/);
    const set = await psql("set client_encoding to 'LATIN1'; select note from notes");
    expect(set.stdout.toString("latin1")).not.toContain(ADA.email);
    expect(set.stderr.toString()).toMatch(/UTF-8 only, and client_encoding is LATIN1/);
    // ENCODING spelt any way Postgres accepts is UTF-8 all the same.
    const { stdout } = await psql("copy notes (id) to stdout (encoding 'UTF_8')");
    expect(stdout.toString()).toBe("5\n");
  });
});

describe("answers the agent could pair with the wrong statement", () => {
  const leaks = (bytes: Buffer) => {
    const text = bytes.toString("latin1");
    return text.includes(ADA.ssn) || text.includes(REVERSED_SSN);
  };

  it("a COPY that fails right after CopyInResponse gets its error, and the session goes on in step", async () => {
    // FREEZE on a table not made in this transaction fails after CopyInResponse, before the server reads
    // anything more: it would answer the Sync behind the Execute (pg8000 and libpq send one there), which the
    // agent therefore holds until the COPY's first answer and drops once the COPY started. The client's Sync
    // after its CopyDone ends the failed batch, as it ends a COPY that succeeds.
    const setup = new pg.Client({ connectionString: database.url });
    await setup.connect();
    await setup.query("create table if not exists frozen (id int)");
    await setup.end();
    const session = await rawSession(proxy.port);
    session.socket.write(
      Buffer.concat([
        parseMessage("", "copy frozen from stdin with (freeze)"),
        frontend.bind("", ""),
        frontend.execute(""),
        frontend.sync(),
        frontend.frame("c", Buffer.alloc(0)),
        frontend.sync(),
        queryMessage("select reverse(ssn) as r, ssn from customers"),
        queryMessage("select 1 as one from pg_sleep(0.3)"),
      ]),
    );
    const answer = await session.until("Z", 3, 4_000);
    expect(session.closed).toBe(false);
    expect(leaks(answer)).toBe(false);
    const messages = backendMessages(answer);
    expect(messages.map((m) => m.type).join("")).toBe("12GEZTDDCZTDCZ");
    expect(messages[3]!.body.toString("latin1")).toContain("C55000");
    // A Sync sent between COPY data and CopyDone is ignored by the server in copy-in mode; the COPY goes on.
    const copied = await session.exchange(
      parseMessage("", "copy frozen from stdin"),
      frontend.bind("", ""),
      frontend.execute(""),
      frontend.sync(),
      frontend.frame("d", Buffer.from("7\n")),
      frontend.sync(),
      frontend.frame("d", Buffer.from("8\n")),
      frontend.frame("c", Buffer.alloc(0)),
      frontend.sync(),
    );
    expect(
      backendMessages(copied)
        .map((m) => m.type)
        .join(""),
    ).toBe("12GCZ");
    expect(copied.toString("latin1")).toContain("COPY 2");
    const rows = await session.exchange(queryMessage("select reverse(ssn) as r, ssn from customers"));
    expect(leaks(rows)).toBe(false);
    expect(backendMessages(rows).filter((m) => m.type === "D")).toHaveLength(2);
    session.socket.destroy();
  });

  it("what follows a COPY FROM waits until the COPY started: a Sync among failing COPY data runs nothing unjudged", async () => {
    // The server fails the COPY on its first row and skips to the next Sync it reads. Had the Sync behind that
    // row gone upstream, the server would end the failed batch there and run the DELETE behind it, after the agent
    // had counted the DELETE as skipped: a statement run with no audit event. Held until the COPY started, that
    // Sync is not sent; the server skips the DELETE's batch with the failed COPY's.
    const setup = new pg.Client({ connectionString: database.url });
    await setup.connect();
    await setup.query("create table if not exists sink (id int); create table if not exists kept (id int)");
    await setup.query("delete from kept; insert into kept select generate_series(1, 10)");
    await setup.end();
    const session = await rawSession(proxy.port);
    const before = proxy.events.length;
    session.socket.write(
      Buffer.concat([
        parseMessage("", "copy sink from stdin"),
        frontend.bind("", ""),
        frontend.execute(""),
        frontend.frame("d", Buffer.from("not-a-number\n")),
        frontend.sync(),
        frontend.frame("c", Buffer.alloc(0)),
        parseMessage("", "delete from kept where id <= 5"),
        frontend.bind("", ""),
        frontend.execute(""),
        frontend.sync(),
      ]),
    );
    const answer = await session.until("Z");
    expect(
      backendMessages(answer)
        .map((m) => m.type)
        .join(""),
    ).toBe("12GEZ");
    const after = await session.exchange(queryMessage("select count(*) from kept"));
    expect(
      backendMessages(after)
        .map((m) => m.type)
        .join(""),
    ).toBe("TDCZ");
    expect(session.closed).toBe(false);
    const check = new pg.Client({ connectionString: database.url });
    await check.connect();
    expect((await check.query("select count(*)::int as n from kept")).rows[0]).toEqual({ n: 10 });
    await check.end();
    const events = proxy.events.slice(before);
    expect(events.some((e) => e.statement?.includes("delete from kept"))).toBe(false);
    expect(events.filter((e) => e.statement === "copy sink from stdin")).toHaveLength(1);
    session.socket.destroy();
  });

  it("a portal bound to a COPY waits as a COPY, whatever its statement's name stands for by its Execute", async () => {
    // The portal runs the COPY it was bound to, though the unnamed statement was parsed again before its
    // Execute: judged by the name, it would send the batches behind it without waiting, and a Sync among the
    // COPY's data would shift every later answer onto the next statement (a masked SELECT's rows unmasked).
    const setup = new pg.Client({ connectionString: database.url });
    await setup.connect();
    await setup.query("create table if not exists sink (id int)");
    await setup.end();
    const session = await rawSession(proxy.port);
    const before = proxy.events.length;
    session.socket.write(
      Buffer.concat([
        parseMessage("", "copy sink from stdin"),
        frontend.bind("p", ""),
        parseMessage("", "select 1"),
        frontend.execute("p"),
        frontend.frame("d", Buffer.from("not-a-number\n")),
        frontend.sync(),
        frontend.frame("c", Buffer.alloc(0)),
        parseMessage("", "select ssn from customers"),
        frontend.bind("", ""),
        frontend.execute(""),
        frontend.sync(),
        parseMessage("", "select pg_sleep(0.3)::text"),
        frontend.bind("", ""),
        frontend.execute(""),
        frontend.sync(),
      ]),
    );
    const answer = await session.until("Z", 2, 4_000);
    expect(session.closed).toBe(false);
    expect(leaks(answer)).toBe(false);
    // The failed COPY's batch took the SELECT with it (the server skips to the Sync the client sent after
    // its CopyDone); the last batch ran, and is on record as such.
    expect(
      backendMessages(answer)
        .map((m) => m.type)
        .join(""),
    ).toBe("121GEZ12DCZ");
    const events = proxy.events.slice(before);
    expect(events.map((e) => e.statement)).toEqual(["copy sink from stdin", "select pg_sleep(0.3)::text"]);
    expect(events[0]!.decision).toBe("error");
    session.socket.destroy();
  });

  it("a FunctionCall is refused, and its refusal recorded", async () => {
    const session = await rawSession(proxy.port);
    const before = proxy.events.length;
    const functionCall = Buffer.alloc(10);
    functionCall.writeInt32BE(1299, 0); // now()
    const answer = await session.exchange(frontend.frame("F", functionCall));
    expect(
      backendMessages(answer)
        .map((m) => m.type)
        .join(""),
    ).toBe("EZ");
    expect(answer.toString("latin1")).toContain("FunctionCall message is not allowed");
    expect(proxy.events.slice(before)).toMatchObject([
      { type: "statement", decision: "blocked", ruleId: "builtin-function-call", statement: null },
    ]);
    session.socket.destroy();
  });

  it("a FunctionCall the server skips after an error queues nothing: later results stay masked", async () => {
    const session = await rawSession(proxy.port);
    const functionCall = Buffer.alloc(10);
    functionCall.writeInt32BE(1299, 0);
    session.socket.write(
      Buffer.concat([
        parseMessage("", "selec"),
        frontend.bind("", ""),
        frontend.execute(""),
        frontend.frame("H", Buffer.alloc(0)),
      ]),
    );
    await session.until("E");
    await session.exchange(frontend.frame("F", functionCall), frontend.sync());
    await session.exchange(queryMessage("select 1/0"));
    const rows = await session.exchange(queryMessage("select reverse(ssn) as r, ssn from customers"));
    expect(leaks(rows)).toBe(false);
    expect(backendMessages(rows).filter((m) => m.type === "D")).toHaveLength(2);
    session.socket.destroy();
  });
});
