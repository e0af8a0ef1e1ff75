// A partition or an inheritance child holds rows its parent returns, under its own name: a column rule on the
// parent masks the child's column, read however it is named, and a rule on one partition masks that column when
// the parent is read. Each case below returned raw values before.
import { createTestDatabase } from "@portcullis/db/test-support";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localUpstream, startTestProxy, type TTestProxy } from "./test-harness.ts";

const SSN = "078-05-1120";
const CARD = "4111 1111 1111 1111";

const MASKING_RULES = (["customers.ssn", "events.ssn", "ledger_2024.card"] as const).map(
  (columnPattern, i) => ({
    id: `m${i}`,
    name: `Mask ${columnPattern}`,
    columnPattern,
    detector: null,
    strategy: "partial" as const,
    exemptIdentities: [],
    exemptGroups: [],
  }),
);

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TTestProxy;
let client: pg.Client;
let extended: postgres.Sql;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  const setup = new pg.Client({ connectionString: database.url });
  await setup.connect();
  await setup.query(`
    create table customers (id int, ssn text);
    create table customers_archive (archived_at date) inherits (customers);
    insert into customers_archive values (1, '${SSN}', '2020-01-01');
    -- Two levels of partitions.
    create table events (id int, ssn text) partition by range (id);
    create table events_p1 partition of events for values from (0) to (100);
    create table events_p2 partition of events for values from (100) to (200) partition by range (id);
    create table events_p2a partition of events_p2 for values from (100) to (150);
    insert into events values (1, '${SSN}'), (120, '${SSN}');
    -- A rule on one partition only.
    create table ledger (id int, card text) partition by list (id);
    create table ledger_2023 partition of ledger for values in (2023);
    create table ledger_2024 partition of ledger for values in (2024);
    insert into ledger values (2023, '5555 5555 5555 4444'), (2024, '${CARD}');
    create view first_events as select id, ssn from events_p1;
    create table scratch (v text);
  `);
  await setup.end();
  proxy = await startTestProxy(
    { shop: localUpstream(database.name) },
    { policy: { maskingRules: MASKING_RULES } },
  );
  client = new pg.Client({ connectionString: proxy.url() });
  await client.connect();
  extended = postgres(proxy.url(), { max: 1 });
});

afterAll(async () => {
  await client?.end();
  await extended?.end();
  await proxy?.close();
  await database?.drop();
});

describe("masking across partitions and inheritance", () => {
  for (const queryMode of ["simple", "extended"] as const) {
    it(`masks a parent's rule in its children, read by their own names (${queryMode} protocol)`, async () => {
      // node-postgres over the simple protocol, postgres.js over the extended one.
      const query = async (text: string): Promise<unknown[]> =>
        queryMode === "simple"
          ? (await client.query(text)).rows
          : [...(await extended.unsafe(text, [], { prepare: true }))];
      expect(await query("select id, ssn from customers_archive")).toEqual([{ id: 1, ssn: "***-**-1120" }]);
      expect(await query("select * from events_p1")).toEqual([{ id: 1, ssn: "***-**-1120" }]);
      // A partition of a partition (computed from the column: redacted).
      expect(await query("select ssn, ssn || '' as s from events_p2a")).toEqual([
        { ssn: "***-**-1120", s: "********" },
      ]);
      expect(await query("select * from first_events")).toEqual([{ id: 1, ssn: "***-**-1120" }]);
      // The parents themselves, as before.
      expect(await query("select ssn from customers")).toEqual([{ ssn: "***-**-1120" }]);
      expect(await query("select ssn from events order by id")).toEqual([
        { ssn: "***-**-1120" },
        { ssn: "***-**-1120" },
      ]);
    });
  }

  it("masks a partition's rule when the parent is read, and leaves its siblings exact", async () => {
    const { rows } = await client.query("select id, card from ledger order by id");
    expect(rows).toEqual([
      { id: 2023, card: "**** **** **** 4444" },
      { id: 2024, card: "**** **** **** 1111" },
    ]);
    expect((await client.query("select card from ledger_2023")).rows).toEqual([
      { card: "5555 5555 5555 4444" },
    ]);
    expect((await client.query("select card from ledger_2024")).rows).toEqual([
      { card: "**** **** **** 1111" },
    ]);
  });

  it("refuses to export or copy a child's masked column", async () => {
    await expect(client.query("copy events_p1 to stdout")).rejects.toThrow(
      /COPY ... TO would export masked columns/,
    );
    await expect(client.query("insert into scratch select ssn from customers_archive")).rejects.toThrow(
      /would store customers_archive\.ssn/,
    );
    expect((await client.query("select count(*)::int as n from scratch")).rows).toEqual([{ n: 0 }]);
  });
});
