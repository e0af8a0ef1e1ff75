// With standard_conforming_strings off, Postgres reads `'\'` as an escaped quote while the agent's parser
// (and every guardrail built on it) reads a complete string: `select '\' as a, '; drop table t; --'` is
// one harmless SELECT to the agent and a DROP TABLE to the server. These tests hold the line: the setting
// cannot be turned off through the agent, a database that runs with it off is refused, and a session where
// it goes off anyway (a function did it) is ended.
import { createTestDatabase } from "@portcullis/db/test-support";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUOTING_REFUSAL } from "./session.ts";
import { localUpstream, startTestProxy, type TTestProxy } from "./test-harness.ts";

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
       as $$ select set_config('standard_conforming_strings', 'off', false) $$`,
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
});
