// With standard_conforming_strings off, Postgres reads `'\'` as an escaped quote while the agent's parser
// (and every guardrail built on it) reads a complete string: `select '\' as a, '; drop table t; --'` is
// one harmless SELECT to the agent and a DROP TABLE to the server. These tests hold the line: the setting
// cannot be turned off through the agent, a database that runs with it off is refused, and a session where
// it goes off anyway (a function did it) is ended.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createTestDatabase } from "@portcullis/db/test-support";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUOTING_REFUSAL } from "./session.ts";
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

const SMUGGLED_DROP = "select '\\' as a, '; drop table victim; --' as b";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let offDatabase: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TTestProxy;

async function directQuery(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

const victimExists = async () =>
  (await directQuery(database.url, "select to_regclass('public.victim') is not null as ok")).rows[0].ok;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  offDatabase = await createTestDatabase({ migrate: false });
  await directQuery(
    database.url,
    `create table victim (x int);
     create function quoting_off() returns text language sql
       as $$ select set_config('standard_conforming_strings', 'off', false) $$;
     create function to_sjis() returns text language sql as $$ select set_config('client_encoding', 'SJIS', false) $$;
     -- Answers the agent's check "on" if the check ran with this function ahead of pg_catalog's.
     create function public.current_setting(text) returns text language sql as $$ select 'on'::text $$`,
  );
  await directQuery(
    offDatabase.url,
    `alter database ${offDatabase.name} set standard_conforming_strings = off`,
  );
  proxy = await startTestProxy({
    shop: localUpstream(database.name),
    legacy: localUpstream(offDatabase.name),
  });
});

afterAll(async () => {
  await proxy?.close();
  await database?.drop();
  await offDatabase?.drop();
});

/** The text cells of a DataRow body. */
function cells(body: Buffer): (string | null)[] {
  const out: (string | null)[] = [];
  let offset = 2;
  for (let i = 0; i < body.readInt16BE(0); i++) {
    const length = body.readInt32BE(offset);
    offset += 4;
    out.push(length < 0 ? null : body.toString("utf8", offset, offset + length));
    offset += Math.max(0, length);
  }
  return out;
}

/** One extended-protocol batch: Parse, Bind and Execute of each statement (unnamed), then one Sync. */
function batch(...statements: string[]): Buffer {
  const { bind, execute, sync } = frontend;
  return Buffer.concat([
    ...statements.flatMap((sql) => [parseMessage("", sql), bind("", ""), execute("")]),
    sync(),
  ]);
}

/** What the agent sent until the `count`-th ReadyForQuery (or 5 s). */
async function untilReady(session: { take(): Buffer }, count: number): Promise<Buffer> {
  const deadline = Date.now() + 5_000;
  let bytes = Buffer.alloc(0);
  while (backendMessages(bytes).filter((m) => m.type === "Z").length < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    bytes = Buffer.concat([bytes, session.take()]);
  }
  return bytes;
}

async function agentClient(connection = "shop"): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: proxy.url({ connection }) });
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

describe("standard_conforming_strings through the agent", () => {
  it.each([
    ["SET", "set standard_conforming_strings = off"],
    ["SET LOCAL", "set local standard_conforming_strings to 'off'"],
    ["set_config()", "select set_config('standard_conforming_strings', 'off', false)"],
    [
      "set_config() with a computed name",
      "select set_config(lower('STANDARD_conforming_strings'), 'off', false)",
    ],
    [
      "UPDATE pg_settings",
      "update pg_settings set setting = 'off' where name = 'standard_conforming_strings'",
    ],
  ])("refuses turning it off with %s, and the smuggled DROP stays a string", async (_label, sql) => {
    const client = await agentClient();
    try {
      await expect(client.query(sql)).rejects.toThrow(/standard_conforming_strings/);
      const result = await client.query(SMUGGLED_DROP);
      expect(result.rows).toEqual([{ a: "\\", b: "; drop table victim; --" }]);
      expect((await client.query("show standard_conforming_strings")).rows[0]).toEqual({
        standard_conforming_strings: "on",
      });
    } finally {
      await client.end();
    }
    expect(await victimExists()).toBe(true);
  });

  it("lets clients set it on (pg_dump scripts do)", async () => {
    const client = await agentClient();
    try {
      await client.query("set standard_conforming_strings = on");
      await client.query("reset standard_conforming_strings");
    } finally {
      await client.end();
    }
  });

  it("ends a session in which a function turned it off, before anything else runs", async () => {
    const client = await agentClient();
    await expect(client.query("select quoting_off()")).rejects.toThrow(QUOTING_REFUSAL);
    await expect(client.query(SMUGGLED_DROP)).rejects.toThrow();
    expect(await victimExists()).toBe(true);
    expect(proxy.server.activeSessions).toBe(0);
  });

  it("refuses sessions to a database that runs with it off", async () => {
    const client = new pg.Client({ connectionString: proxy.url({ connection: "legacy" }) });
    await expect(client.connect()).rejects.toThrow(QUOTING_REFUSAL);
  });

  // The server reports the changed setting only at ReadyForQuery: a statement sent right behind the
  // function call, before the agent has seen that report, must not reach the server.
  it("does not let a pipelined simple query ride behind the function that turns it off", async () => {
    const session = await rawSession(proxy.port);
    session.socket.write(Buffer.concat([queryMessage("select quoting_off()"), queryMessage(SMUGGLED_DROP)]));
    const answer = await session.untilClosed();
    expect(answer.closed).toBe(true);
    expect(errorsIn(answer.bytes).map((e) => e.M)).toContain(QUOTING_REFUSAL);
    expect(await victimExists()).toBe(true);
  });

  // In a batch (one Sync for several statements, as JDBC sends them) no ReadyForQuery comes between them, so
  // the agent asks the server for the setting itself before a backslash string goes on.
  it("ends the session before a backslash string reaches the server behind a function of the same batch that turned it off", async () => {
    const session = await rawSession(proxy.port);
    session.socket.write(batch("select quoting_off()", SMUGGLED_DROP));
    const answer = await session.untilClosed();
    expect(answer.closed).toBe(true);
    expect(errorsIn(answer.bytes).map((e) => e.M)).toEqual([QUOTING_REFUSAL]);
    expect(await victimExists()).toBe(true);
  });

  it("runs a backslash string behind an Execute of the same batch while the setting stays on (JDBC batches)", async () => {
    const session = await rawSession(proxy.port);
    const backslashBatch = batch("select 1 as one", String.raw`select 'C:\temp' as path, ' as y --' as z`);
    for (const round of [1, 2]) {
      session.socket.write(backslashBatch);
      const messages = backendMessages(await untilReady(session, 1));
      // Exactly the client's own answers: the agent's check of the setting stays between it and the server.
      expect(messages.map((m) => m.type).join(""), `round ${round}`).toBe("12DC12DCZ");
      expect(messages.filter((m) => m.type === "D").map((m) => cells(m.body))).toEqual([
        ["1"],
        [String.raw`C:\temp`, " as y --"],
      ]);
    }
    expect(session.closed).toBe(false);
    session.socket.destroy();
  });

  it("lets a batch that failed before the backslash string fail as it would directly", async () => {
    const session = await rawSession(proxy.port);
    session.socket.write(batch("select 1/0", String.raw`select 'a\b' as x`));
    const answer = await untilReady(session, 1);
    // The server folds 1/0 when Bind plans it: ParseComplete, the error, then only ReadyForQuery.
    expect(
      backendMessages(answer)
        .map((m) => m.type)
        .join(""),
    ).toBe("1EZ");
    expect(errorsIn(answer).map((e) => e.M)).toEqual(["division by zero"]);
    session.socket.write(queryMessage(String.raw`select 'a\b' as x`));
    const rows = backendMessages(await untilReady(session, 1)).filter((m) => m.type === "D");
    expect(rows.map((m) => m.body.toString("utf8", 6))).toEqual([String.raw`a\b`]);
    session.socket.destroy();
  });

  it("still pipelines backslash strings when nothing before them changes the setting", async () => {
    const session = await rawSession(proxy.port);
    session.socket.write(
      Buffer.concat([
        queryMessage("select 1 as one"),
        queryMessage(String.raw`select 'C:\temp' as path`),
        batch("select 2 as two"),
        batch(String.raw`select 'a\_b' as pattern`),
      ]),
    );
    const bytes = await untilReady(session, 4);
    const rows = backendMessages(bytes)
      .filter((m) => m.type === "D")
      .map((m) => m.body.toString("utf8", 6));
    expect(errorsIn(bytes)).toEqual([]);
    expect(rows).toEqual(["1", "C:\\temp", "2", "a\\_b"]);
    expect(session.closed).toBe(false);
    session.socket.destroy();
  });
});

// In SJIS, BIG5, GBK, UHC, GB18030 and JOHAB a character's second byte may be a backslash. The agent reads
// statements as UTF-8: `E'<0x83>\'; drop table victim; --'` is one string to it, and to the server (where 0x83
// 0x5C is one character) a string, then a DROP TABLE. Such encodings never reach the server.
describe("client encodings the agent would read differently", () => {
  const smuggle = (sql: string) =>
    Buffer.concat([Buffer.from("select E'"), Buffer.from([0x83]), Buffer.from(`\\'${sql}`)]);
  const rawQuery = (sql: Buffer) => {
    const message = Buffer.alloc(5);
    message[0] = 0x51;
    message.writeInt32BE(4 + sql.length + 1, 1);
    return Buffer.concat([message, sql, Buffer.from([0])]);
  };

  it("refuses a session that asks for one at login, whoever the identity", async () => {
    const run = promisify(execFile);
    const file = path.join(tmpdir(), `pc-sjis-${process.pid}.sql`);
    await writeFile(file, Buffer.concat([smuggle("; drop table victim; -- '"), Buffer.from("\n")]));
    const result = await run("psql", [proxy.url(), "-X", "-f", file], {
      env: { ...process.env, PGCLIENTENCODING: "SJIS" },
    }).catch((error: { stderr: string }) => error);
    expect(result.stderr).toMatch(/in client_encoding SJIS a character can hold a backslash or quote byte/);
    expect(await victimExists()).toBe(true);
  });

  it("refuses SET client_encoding, SET NAMES and set_config to one; UTF8 and LATIN1 stay allowed", async () => {
    const client = await agentClient();
    for (const sql of [
      "set client_encoding to 'SJIS'",
      "set names 'BIG5'",
      "select set_config('client_encoding', 'GBK', true)",
      "select set_config(name, 'WIN932', false) from pg_settings where name = 'client_encoding'",
    ])
      await expect(client.query(sql), sql).rejects.toThrow(/client_encoding/);
    await client.query("set client_encoding to 'LATIN1'");
    await client.query("set client_encoding to 'UTF8'");
    expect((await client.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
    await client.end();
  });

  it("ends the session when code switched to one, before the next statement of its batch reaches the server", async () => {
    const session = await rawSession(proxy.port);
    session.socket.write(
      Buffer.concat([
        parseMessage("", "select to_sjis()"),
        frontend.bind("", ""),
        frontend.execute(""),
        frontend.frame(
          "P",
          Buffer.concat([Buffer.from([0]), smuggle(" as x into smuggled -- '"), Buffer.from([0, 0, 0])]),
        ),
        frontend.bind("", ""),
        frontend.execute(""),
        frontend.sync(),
      ]),
    );
    const answer = await session.untilClosed();
    expect(answer.closed).toBe(true);
    expect(
      errorsIn(answer.bytes)
        .map((e) => e.M)
        .join(),
    ).toMatch(/client_encoding SJIS/);
    expect(
      (await directQuery(database.url, "select to_regclass('smuggled') is null as gone")).rows[0].gone,
    ).toBe(true);
    // A simple query behind it in one string: the server reports the change only at ReadyForQuery.
    const simple = await rawSession(proxy.port);
    simple.socket.write(
      rawQuery(Buffer.concat([Buffer.from("select to_sjis(); "), smuggle("; drop table victim; -- '")])),
    );
    await simple.untilClosed();
    expect(await victimExists()).toBe(true);
  });

  it("asks the server for both settings with pg_catalog's functions, whatever the search_path", async () => {
    const session = await rawSession(proxy.port);
    await session.exchange(queryMessage("set search_path = public, pg_catalog"));
    session.socket.write(batch("select quoting_off()", SMUGGLED_DROP));
    const answer = await session.untilClosed();
    expect(answer.closed).toBe(true);
    expect(errorsIn(answer.bytes).map((e) => e.M)).toEqual([QUOTING_REFUSAL]);
    expect(await victimExists()).toBe(true);
  });
});

describe("text that is not UTF-8", () => {
  it("keeps LATIN1's é and è apart in dollar-quote tags, so a DROP between them is seen", async () => {
    // In LATIN1, $é$ and $è$ are different tags: the server runs what lies between the two quoted strings.
    // Read as UTF-8 both bytes become U+FFFD, and the agent would see one string and a comment.
    const body = Buffer.concat([
      Buffer.from("select $"),
      Buffer.from([0xe9]),
      Buffer.from("$ $"),
      Buffer.from([0xe8]),
      Buffer.from("$, /* $"),
      Buffer.from([0xe9]),
      Buffer.from("$; drop table victim; select $"),
      Buffer.from([0xe8]),
      Buffer.from("$ */ $"),
      Buffer.from([0xe9]),
      Buffer.from("$ $"),
      Buffer.from([0xe8]),
      Buffer.from("$"),
    ]);
    const session = await rawSession(proxy.port);
    await session.exchange(queryMessage("set client_encoding to 'LATIN1'"));
    const simple = errorsIn(
      await session.exchange(frontend.frame("Q", Buffer.concat([body, Buffer.from([0])]))),
    );
    expect(simple.map((e) => e.M)).toEqual([
      expect.stringMatching(/Portcullis blocked this statement: .*Destructive/),
    ]);
    const extended = errorsIn(
      await session.exchange(
        frontend.frame("P", Buffer.concat([Buffer.from([0]), body, Buffer.from([0, 0, 0])])),
        frontend.bind("", ""),
        frontend.execute(""),
        frontend.sync(),
      ),
    );
    expect(extended.map((e) => e.M)).toEqual([expect.stringMatching(/Portcullis blocked this statement/)]);
    session.socket.destroy();
    expect(await victimExists()).toBe(true);
  });
});
