// The onboarding probe against the machine's Postgres: it connects as the connection would, and its
// discovery finds the sensitive columns without returning any sampled value.
import { createTestDatabase } from "@portcullis/db/test-support";
import { initParser } from "@portcullis/policy";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeDatabase } from "./probe.ts";
import { localUpstream } from "./proxy/test-harness.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  await initParser();
  database = await createTestDatabase({ migrate: false });
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query(`
    create table people (id int primary key, contact_email text, ssn text, "Note" text);
    insert into people select g, 'someone' || g || '@example.com', '123-45-' || lpad(g::text, 4, '0'), 'n'
    from generate_series(1, 10) g;
    create schema billing;
    create table billing.cards (id int, card_number text);
    insert into billing.cards values (1, '4111 1111 1111 1111'), (2, '5500 0000 0000 0004'), (3, '4012 8888 8888 1881');`);
  await client.end();
});

afterAll(async () => {
  await database?.drop();
});

describe("probeDatabase", () => {
  it("reports the server and the sensitive columns, never their values", async () => {
    const result = await probeDatabase({ ...localUpstream(database.name) }, true);
    expect(result).toMatchObject({ ok: true, error: null, tablesScanned: 2 });
    expect(result.serverVersion).toMatch(/^\d+/);
    const found = result.classifications.map((c) => `${c.table}.${c.column}:${c.category}`);
    expect(found).toEqual(
      expect.arrayContaining([
        "people.contact_email:email",
        "people.ssn:us_ssn",
        "billing.cards.card_number:payment_card",
      ]),
    );
    expect(found.some((f) => f.startsWith("people.Note"))).toBe(false);
    expect(JSON.stringify(result)).not.toMatch(/@example\.com|4111|123-45/);
  });

  it("only connects when no scan is asked for", async () => {
    const result = await probeDatabase({ ...localUpstream(database.name) }, false);
    expect(result).toMatchObject({ ok: true, tablesScanned: 0, classifications: [] });
  });

  it("says why it could not connect", async () => {
    const result = await probeDatabase({ ...localUpstream("pc_no_such_database") }, true);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/does not exist/);
  });
});
