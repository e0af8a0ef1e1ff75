// Code planted where the agent's catalog looked away: a view over the planner's statistics, a function made a
// member of an extension its creator owns, a function or cast a superuser defined among Postgres's own. Each
// returned raw values of masked columns through the agent before.
import { createTestDatabase, TEST_ADMIN_URL } from "@portcullis/db/test-support";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localUpstream, startTestProxy, type TTestProxy } from "./test-harness.ts";

const SSN = "078-05-1120";
const RAW = [SSN, [...SSN].reverse().join(""), "078051120", "78051120"];

const MASKING_RULES = [
  {
    id: "ssn",
    name: "Mask SSNs",
    columnPattern: "customers.ssn",
    detector: null,
    strategy: "partial" as const,
    exemptIdentities: [],
    exemptGroups: [],
  },
];

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TTestProxy;
// Roles are the cluster's, not the database's: one name per run.
const extensionOwner = `pc_ext_owner_${process.pid}_${Date.now()}`;

async function direct(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query(sql);
  await client.end();
}

async function viaAgent(sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: proxy.url() });
  await client.connect();
  try {
    return JSON.stringify((await client.query(sql)).rows);
  } catch (error) {
    return String(error);
  } finally {
    await client.end();
  }
}

function expectNoRaw(output: string): void {
  for (const raw of RAW) expect(output, `leaked ${raw}`).not.toContain(raw);
}

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  await direct(`
    create table customers (id int primary key, ssn text);
    insert into customers values (1, '${SSN}'), (2, '219-09-9999');
    analyze customers;
  `);
  proxy = await startTestProxy(
    { shop: localUpstream(database.name) },
    { policy: { guardrails: [], maskingRules: MASKING_RULES } },
  );
});

afterAll(async () => {
  await proxy?.close();
  await database?.drop();
  const admin = new pg.Client({ connectionString: TEST_ADMIN_URL });
  await admin.connect();
  await admin.query(`drop role if exists ${extensionOwner}`);
  await admin.end();
});

// Each case plants its code directly (as the owner or a superuser would, around the agent), then waits for the
// agent's next catalog read by making its own DDL through the agent (read again once that transaction ends).
async function plant(sql: string): Promise<void> {
  await direct(sql);
  await viaAgent("create temp table refresh_catalog (x int)");
}

describe("code planted out of the catalog's sight", () => {
  it("masks a view over the planner's statistics", async () => {
    await plant(
      "create view stats_copy as select attname, histogram_bounds::text as hb from pg_stats where tablename = 'customers'",
    );
    const out = await viaAgent("select attname, hb, reverse(hb) as r from stats_copy where attname = 'ssn'");
    expectNoRaw(out);
    expect(out).toMatch(/^\[\{"attname":/);
  });

  it("counts a function made a member of an extension its creator owns as the user's", async () => {
    // The creator of an extension owns it and may add functions of theirs; only superuser-owned extensions'
    // members are trusted as the extension's.
    // citext is a trusted extension: a role with CREATE on the database may create it, and owns it.
    await plant(`
      create role ${extensionOwner};
      grant create on database ${database.name} to ${extensionOwner};
      grant create on schema public to ${extensionOwner};
      set role ${extensionOwner};
      create extension citext;
      create function public.initcap(int) returns text language sql as $$ select reverse(ssn) from customers where id = $1 $$;
      alter extension citext add function public.initcap(int);
      reset role;
    `);
    expectNoRaw(await viaAgent("select initcap(1) as s"));
  });

  it("counts functions and casts a superuser added to pg_catalog as unknown code", async () => {
    await plant(`
      create function pg_catalog.upper(int) returns text language sql
        as $$ select reverse(ssn) from customers where id = $1 $$;
    `);
    expectNoRaw(await viaAgent("select upper(1) as a, pg_catalog.upper(1) as b"));
    await plant(`
      create function leak_int(text) returns int language sql
        as $$ select translate(ssn, '-', '')::numeric::int from customers where id = 1 $$;
      create cast (text as int4) with function leak_int(text) as implicit;
    `);
    expectNoRaw(await viaAgent("select abs(concat('1')) as s"));
  });
});
