import { createHmac } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { analyzeSql, initParser, type TStatementAnalysis } from "./analyze.ts";
import {
  columnRuleFor,
  compileMaskingRules,
  hmacSha256Hex,
  maskText,
  pathRule,
  statementMasking,
  viewMasking,
  withInheritedRules,
  type TMaskingRuleSpec,
  type TViewSources,
} from "./masking.ts";

beforeAll(() => initParser());

const rules: TMaskingRuleSpec[] = [
  {
    id: "1",
    name: "SSN",
    columnPattern: "customers.ssn",
    detector: null,
    strategy: "partial",
    exemptIdentities: [],
    exemptGroups: [],
  },
  {
    id: "2",
    name: "Email",
    columnPattern: "customers.email",
    detector: null,
    strategy: "partial",
    exemptIdentities: ["dpo@demo.local"],
    exemptGroups: [],
  },
  {
    id: "3",
    name: "Card",
    columnPattern: "public.customers.credit_card",
    detector: null,
    strategy: "partial",
    exemptIdentities: [],
    exemptGroups: ["finance"],
  },
  {
    id: "4",
    name: "Tokens anywhere",
    columnPattern: "*.api_token",
    detector: null,
    strategy: "redact",
    exemptIdentities: [],
    exemptGroups: [],
  },
];
const dev = compileMaskingRules(rules, { identityName: "dev@demo.local", groups: [] });
const schema = {
  columnsOf: (table: string) =>
    ({
      orders: ["id", "customer_id", "total"],
      customers: ["id", "full_name", "email", "ssn", "credit_card", "api_token"],
      notes: ["id", "note"],
      contacts: ["id", "email"],
      totals: ["total"],
      secrets: ["id"],
    })[table],
};

function one(sql: string): TStatementAnalysis {
  const r = analyzeSql(sql);
  if (!r.ok) throw new Error(r.error);
  return r.statements[0]!;
}

describe("compileMaskingRules", () => {
  it("drops rules the identity or its groups are exempt from", () => {
    expect(
      compileMaskingRules(rules, { identityName: "dpo@demo.local", groups: [] }).columnRules.map(
        (r) => r.column,
      ),
    ).toEqual(["ssn", "credit_card", "api_token"]);
    expect(
      compileMaskingRules(rules, { identityName: "x", groups: ["finance"] }).columnRules.map((r) => r.column),
    ).toEqual(["ssn", "email", "api_token"]);
  });

  it("matches table columns with or without schema, and wildcard tables", () => {
    expect(columnRuleFor(dev, "customers", "SSN")?.ruleId).toBe("1");
    expect(columnRuleFor(dev, "public.customers", "credit_card")?.ruleId).toBe("3");
    expect(columnRuleFor(dev, "archive.customers", "credit_card")).toBeNull();
    expect(columnRuleFor(dev, "orders", "api_token")?.ruleId).toBe("4");
    expect(columnRuleFor(dev, "customers", "full_name")).toBeNull();
  });
});

describe("statementMasking: computed columns are masked when the statement touches masked data", () => {
  it.each([
    "select lower(email) from customers",
    "select email || '' from customers",
    "select ssn::text from customers c",
    "select c.ssn as x from customers c",
    "select upper(x) from (select ssn as x from customers) t",
    "with t as (select email from customers) select reverse(email) from t",
    "select row_to_json(c) from customers c",
    "select to_jsonb(c.*) from customers c",
    "select c from customers c",
    "select json_agg(customers) from customers",
    "select array_agg(ssn) from customers",
    "select (select ssn from customers limit 1)",
    "select 1 union all select length(ssn) from customers",
    "select * from orders o, lateral (select ssn from customers where id = o.customer_id) s",
    "select coalesce(credit_card, 'none') from public.customers",
    "select case when true then api_token end from anything",
    "select xmlelement(name x, email) from customers",
    "select string_agg(email, ',') from customers",
    "select most_common_vals from pg_stats where tablename = 'customers'",
    "select stavalues1 from pg_catalog.pg_statistic",
    // Column aliases rename by position (b is email here); a join's alias stands for all of its tables.
    "select upper(b) from customers as t(a, c, b)",
    "select upper(j.email) from (customers c join orders o on o.customer_id = c.id) as j",
    "select upper(j.e) from (customers c join orders o on o.customer_id = c.id) as j(a, b, e)",
  ])("%s", (sql) => {
    expect(statementMasking(one(sql), dev, schema).tainted).toBe(true);
  });

  it.each([
    // Function-style notation: t.row_to_json is row_to_json(t).
    "select t.row_to_json from customers t",
    "select c.record_out from customers c",
    // One alias in two scopes: here t is customers inside, orders outside.
    "select (select upper(t.email) from customers t where t.id = o.id) from orders o, orders t",
    // A WITH name in one scope, the table of that name in another.
    "select upper(email) from customers where exists (with customers as (select 1) select * from customers)",
    // Function-style notation behind a join's alias, an alias bound twice, a WITH name, a star subquery.
    "select j.row_to_json from (customers join orders using (id)) as j",
    "select t.row_to_json from customers t where exists (select 1 from orders t)",
    "with t as (select 1) select t.row_to_json from customers t",
    "select s.to_jsonb from (select * from customers) s",
    "select j.row_to_json, 1 as row_to_json from (customers join orders using (id)) as j",
    // A derived table named like a relation read under its own name exempts nothing of the relation's.
    "select customers.row_to_json from customers where exists (select 1 from (select 1 as row_to_json) customers)",
    "select customers.row_to_json from customers where exists (with customers as (select 1 as row_to_json) select 1 from customers)",
    "select customers.row_to_json from customers, lateral (select 1 from generate_series(1, 1) as customers(row_to_json)) z",
  ])("taints %s", (sql) => {
    expect(statementMasking(one(sql), dev, schema).tainted).toBe(true);
  });

  it.each([
    "update notes set note = t.c from customers t(a, b, c) where t.a = notes.id",
    "update notes set note = c.email from customers c where c.id = notes.id",
    "insert into notes values (1, 'x') on conflict (id) do update set note = (select email from customers limit 1)",
  ])("refuses to store masked data through %s", (sql) => {
    expect(statementMasking(one(sql), dev, schema).block?.ruleName).toBe(
      "Masked data cannot be copied into tables",
    );
  });

  it.each([
    // Output columns of subqueries, WITH queries and functions in FROM are columns, not function calls.
    "select s.n from (select count(*) as n from customers) s",
    "with c(total) as (select count(*) from customers) select c.total from c",
    "select u.x, v.v from customers c, unnest(array[1, 2]) as u(x), generate_series(1, 2) as v",
    "select s.id from (select id from customers union select id from orders) s",
  ])("does not taint %s", (sql) => {
    expect(statementMasking(one(sql), dev, schema).tainted).toBe(false);
  });

  it("refuses to store what a column alias renamed", () => {
    expect(
      statementMasking(one("insert into notes select a, c from customers as t(a, b, c)"), dev, schema).block,
    ).toMatchObject({ ruleName: "Masked data cannot be copied into tables" });
    expect(statementMasking(one("select upper(i::text) from orders as o(i, c)"), dev, schema).tainted).toBe(
      false,
    );
  });

  it.each([
    "select count(*) from customers",
    "select id, full_name, city from customers",
    "select * from orders",
    "select now()",
    "select lower(full_name) from customers",
    // pg_dump's and psql's catalog queries: catalog functions return metadata, never user rows.
    "SELECT n.tableoid, n.oid, n.nspname, n.nspowner, n.nspacl, acldefault('n', n.nspowner) AS acldefault FROM pg_namespace n",
    "select pg_catalog.format_type(a.atttypid, a.atttypmod), pg_catalog.pg_get_expr(d.adbin, d.adrelid) from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid",
  ])("does not taint %s", (sql) => {
    expect(statementMasking(one(sql), dev, schema).tainted).toBe(false);
  });

  it("taints what it cannot follow: cursors, EXECUTE, unknown functions", () => {
    expect(statementMasking(one("fetch 10 from c"), dev).tainted).toBe(true);
    expect(statementMasking(one("execute p(1)"), dev).tainted).toBe(true);
    expect(statementMasking(one("select my_function(1)"), dev).tainted).toBe(true);
    // A built-in's name in another schema is somebody's own function.
    expect(statementMasking(one("select public.lower(1)"), dev, schema).tainted).toBe(true);
    expect(statementMasking(one("select app.acldefault('n', 10)"), dev, schema).tainted).toBe(true);
    expect(statementMasking(one("select pg_catalog.lower('A')"), dev, schema).tainted).toBe(false);
    // ... and so is a bare built-in name that the database also has outside pg_catalog.
    const shadowed = { ...schema, userFunctions: new Set(["lower"]) };
    expect(statementMasking(one("select lower(1)"), dev, shadowed).tainted).toBe(true);
    expect(statementMasking(one("select pg_catalog.lower('A')"), dev, shadowed).tainted).toBe(false);
    expect(
      statementMasking(one("select query_to_xml('select ssn from customers', true, true, '')"), dev).tainted,
    ).toBe(true);
  });

  it("redacts computed columns, whatever the referenced column's strategy (NULL only when every rule says so)", () => {
    // Partial keeps what the query puts at its end: 'XXXXXXXXX' || substr(ssn, 1, 4) would show four digits.
    expect(
      statementMasking(one("select 'XXXXXXXXX' || substr(ssn, 1, 4) from customers"), dev).computedStrategy,
    ).toBe("redact");
    expect(statementMasking(one("select lower(email), api_token from customers"), dev).computedStrategy).toBe(
      "redact",
    );
    const nulled = compileMaskingRules([{ ...rules[0]!, strategy: "null" }], {
      identityName: "dev@demo.local",
      groups: [],
    });
    expect(statementMasking(one("select lower(ssn) from customers"), nulled).computedStrategy).toBe("null");
  });

  it("blocks COPY out of masked tables and side channels", () => {
    expect(statementMasking(one("copy customers to stdout"), dev).block?.ruleName).toMatch(/COPY/);
    expect(statementMasking(one("copy (select ssn from customers) to stdout"), dev).block).not.toBeNull();
    // Only a known schema tells that orders has no api_token column for the wildcard rule to hit.
    expect(statementMasking(one("copy orders to stdout"), dev).block).not.toBeNull();
    expect(statementMasking(one("copy orders to stdout"), dev, schema).block).toBeNull();
    // What a COPY exports is plain from the statement: unmasked columns of a table with masked ones go.
    const copy = (sql: string) => statementMasking(one(sql), dev, schema).block;
    for (const sql of [
      "copy customers (id, full_name) to stdout with csv header",
      "copy (select id, upper(full_name) as name from customers where id > 1) to stdout",
      "copy (select c.id, o.total from customers c join orders o on o.customer_id = c.id) to stdout",
    ])
      expect(copy(sql), sql).toBeNull();
    for (const sql of [
      "copy customers (id, SSN) to stdout",
      "copy public.customers (id, api_token) to stdout",
      "copy (select id, ssn from customers) to stdout",
      "copy (select c.* from customers c) to stdout",
      "copy (select c from customers c) to stdout",
      "copy (select id, secret_of(id) from customers) to stdout",
      // As a SELECT's computed columns would be masked: a masked column anywhere taints the statement.
      "copy (select id, full_name from customers where ssn like '078%') to stdout",
      "copy (select id from unknown_table) to stdout",
    ])
      expect(copy(sql)?.ruleName, sql).toBe("Masked columns cannot be exported with COPY");
    expect(copy("copy customers (id, ssn) to stdout")?.message).toMatch(/\(customers\.ssn\)/);
    expect(
      statementMasking(one("select set_config('x', ssn, false) from customers"), dev).block?.ruleName,
    ).toMatch(/side channels/);
    expect(statementMasking(one("select pg_notify('c', email) from customers"), dev).block).not.toBeNull();
    // State a later statement reads: a sequence's value, an advisory lock's key (pg_locks), a large object.
    for (const sql of [
      "select setval('orders_id_seq', replace(ssn, '-', '')::bigint) from customers",
      "select pg_advisory_xact_lock_shared(replace(ssn, '-', '')::bigint) from customers",
      "select pg_try_advisory_lock(length(email), 1) from customers",
      "select lo_create(replace(ssn, '-', '')::oid) from customers",
      "select lowrite(lo_open(lo_create(0), 131072), convert_to(reverse(ssn), 'UTF8')) from customers",
    ])
      expect(statementMasking(one(sql), dev, schema).block?.ruleName, sql).toBe(
        "Masked data cannot leave through side channels",
      );
    expect(
      statementMasking(one("select count(nextval('s')) from customers where ssn like '0%'"), dev, schema)
        .block,
    ).not.toBeNull();
    // A foreign table may be a masked table under another name (postgres_fdw back to this database).
    expect(
      statementMasking(
        one("create foreign table ft (ssn text) server loop options (table_name 'customers')"),
        dev,
        schema,
      ).block?.ruleName,
    ).toBe("Masked data cannot be renamed or re-derived");
    // A function that may read masked data feeds it.
    expect(
      statementMasking(one("select set_config('x', secret_of(1), false)"), dev, schema).block,
    ).not.toBeNull();
    // Nothing masked reaches it.
    expect(
      statementMasking(one("select setval('customers_id_seq', max(id)) from customers"), dev, schema).block,
    ).toBeNull();
  });

  it("tells which statements run code the agent does not see (cursors it knows may change under them)", () => {
    const runs = (sql: string, masking = dev) =>
      statementMasking(one(sql), masking, { ...schema, userFunctions: new Set(["my_function"]) })
        .runsUnknownCode ?? false;
    expect(runs("select count(*), lower(full_name) from customers")).toBe(false);
    expect(runs("declare c cursor for select id from orders")).toBe(false);
    expect(runs("fetch 10 from c")).toBe(false);
    expect(runs("select my_function(id) from orders")).toBe(true);
    expect(runs("execute p")).toBe(true);
    expect(runs("call refresh_all()")).toBe(true);
    expect(runs("do $$ begin perform 1; end $$")).toBe(true);
    // A view that calls a function outside pg_catalog runs it for whoever reads the view.
    const views = {
      ...schema,
      viewSources: (name: string) =>
        name === "swapper" ? { columns: [], functions: ["public.swap_cursor"] } : undefined,
    };
    expect(statementMasking(one("select * from swapper"), dev, views).runsUnknownCode).toBe(true);
    // Without column rules no catalog is read: any function may be the user's.
    const none = compileMaskingRules([], { identityName: "dev@demo.local", groups: [] });
    expect(runs("select id from orders", none)).toBe(false);
    expect(runs("select lower(note) from notes", none)).toBe(true);
  });

  it("counts a user-defined operator as unknown code, as it would its function", () => {
    const info = { ...schema, userOperators: new Set(["#%#"]) };
    const judge = (sql: string) => statementMasking(one(sql), dev, info);
    expect(judge("select 1 #%# 1 from orders").tainted).toBe(true);
    expect(judge("select 1 #%# 1 from orders").runsUnknownCode).toBe(true);
    expect(judge("select id from orders where id operator(public.=) 1").tainted).toBe(true);
    expect(judge("select id + 1, total from orders where id = 1 and total > 2").tainted).toBe(false);
    expect(judge("select id from orders where id operator(pg_catalog.=) 1").tainted).toBe(false);
  });

  it("applies a rule to the same column of a table's partitions and inheritance relatives", () => {
    const compiled = compileMaskingRules(
      [
        { ...rules[0]!, id: "a", columnPattern: "public.events.ssn" },
        { ...rules[0]!, id: "b", columnPattern: "ledger_2024.card" },
      ],
      { identityName: "dev@demo.local", groups: [] },
    );
    const relatives = new Map([
      ["public.events", ["public.events_p1", "app.events_p2a"]],
      ["public.events_p1", ["public.events"]],
      ["app.events_p2a", ["public.events"]],
      ["public.ledger", ["public.ledger_2023", "public.ledger_2024"]],
      ["public.ledger_2023", ["public.ledger"]],
      ["public.ledger_2024", ["public.ledger"]],
    ]);
    const masking = withInheritedRules(compiled, relatives);
    expect(columnRuleFor(masking, "app.events_p2a", "ssn")?.ruleId).toBe("a");
    expect(columnRuleFor(masking, "events_p1", "SSN")?.ruleId).toBe("a");
    expect(columnRuleFor(masking, "public.events_p1", "id")).toBeNull();
    expect(columnRuleFor(masking, "public.ledger", "card")?.ruleId).toBe("b");
    expect(columnRuleFor(masking, "public.ledger_2023", "card")).toBeNull();
    // Nothing related: the very same rules.
    expect(withInheritedRules(compiled, new Map([["public.a", ["public.b"]]]))).toBe(compiled);
  });

  it("refuses schema changes that take masked data out of its rules' reach", () => {
    const reshaping = (sql: string) => statementMasking(one(sql), dev, schema).block?.ruleName;
    for (const sql of [
      "alter table customers rename column ssn to note",
      "alter table public.customers rename to clients",
      "alter table customers set schema archive",
      "alter table customers alter column full_name type text using reverse(ssn)",
      "alter table customers add column c text generated always as (reverse(ssn)) stored",
    ])
      expect(reshaping(sql), sql).toBe("Masked data cannot be renamed or re-derived");
    for (const sql of [
      "alter table customers rename column full_name to name",
      "alter table orders rename to purchases",
      "alter table customers add column note text",
    ])
      expect(reshaping(sql), sql).toBeUndefined();
  });

  it("counts a cast the database defines as unknown code, wherever a value may be converted by it", () => {
    // `create cast (int as boxed) with function box_it(int)`; wrapper has a boxed field; boxes a boxed column.
    const info = { ...schema, userCastTypes: new Set(["boxed", "wrapper", "boxes"]) };
    const judge = (sql: string) => statementMasking(one(sql), dev, info);
    for (const sql of [
      "select 1::boxed",
      "select cast(1 as public.boxed[])",
      "select row(1)::wrapper from orders",
      "select b::text from boxes",
      "select * from public.boxes",
    ]) {
      expect(judge(sql).tainted, sql).toBe(true);
      expect(judge(sql).runsUnknownCode, sql).toBe(true);
    }
    const exact = judge("select id::text, total::numeric(10,2), $1::int from orders");
    expect(exact.tainted).toBe(false);
    expect(exact.runsUnknownCode).toBeUndefined();
  });

  it("knows information_schema's own helper functions (JDBC's DatabaseMetaData calls them)", () => {
    const sql =
      "select c.relname, (information_schema._pg_expandarray(i.indkey)).n from pg_class c join pg_index i on i.indrelid = c.oid";
    expect(statementMasking(one(sql), dev, schema).tainted).toBe(false);
    expect(statementMasking(one("select information_schema.my_helper(1)"), dev, schema).tainted).toBe(true);
  });

  it("lets COPY out of unmasked relations run only where the agent can run the content detectors over its rows", () => {
    const detectors = compileMaskingRules(
      [
        {
          id: "d",
          name: "Emails anywhere",
          columnPattern: null,
          detector: "email",
          strategy: "redact",
          exemptIdentities: [],
          exemptGroups: [],
        },
      ],
      { identityName: "dev@demo.local", groups: [] },
    );
    const block = (sql: string, masking = detectors) => statementMasking(one(sql), masking, schema).block;
    for (const sql of [
      "copy orders to stdout",
      "copy orders (id) to stdout with csv header",
      "copy (select id from orders) to stdout (format text, encoding 'UTF8')",
      "copy orders to stdout (encoding 'utf_8')",
    ])
      expect(block(sql), sql).toBeNull();
    for (const sql of [
      "copy orders to stdout (format binary)",
      "copy orders to stdout binary",
      "copy orders to stdout with (encoding 'LATIN1')",
      "copy orders to '/tmp/orders'",
      "copy orders to program 'cat'",
    ])
      expect(block(sql)?.ruleName, sql).toBe("COPY output must pass the content detectors");
    // Beside column rules too; without detector rules nothing needs reading.
    const both = { ...dev, detectorRules: detectors.detectorRules };
    expect(block("copy orders to stdout (format binary)", both)).not.toBeNull();
    expect(block("copy orders to stdout (format binary)", dev)).toBeNull();
  });

  it.each([
    "insert into notes select id, reverse(ssn) from customers",
    "insert into notes (id, note) values (1, (select email from customers limit 1))",
    "update orders set note = c.email from customers c where c.id = orders.customer_id",
    "update customers set full_name = email",
    "create table copied as select * from customers",
    "select c.* into temp copied from customers c",
    "with x as (select ssn as s from customers) insert into notes select 1, s from x",
    "insert into notes select id, my_function(id) from orders",
    "merge into notes n using (select id, ssn from customers) c on n.id = c.id when not matched then insert values (c.id, c.ssn)",
  ])("refuses to store masked data: %s", (sql) => {
    expect(statementMasking(one(sql), dev, schema).block?.ruleName).toBe(
      "Masked data cannot be copied into tables",
    );
  });

  it.each([
    "insert into notes values (1, 'x')",
    "insert into orders (customer_id, total) select id, 10 from customers where email = 'a@b.c'",
    "update customers set full_name = upper(full_name) where ssn like '078%'",
    "insert into notes select id, full_name from customers",
    "insert into orders (id, total) values (nextval('orders_id_seq'), 1)",
  ])("stores what is not masked: %s", (sql) => {
    expect(statementMasking(one(sql), dev, schema).block).toBeNull();
  });

  it("taints what reads a relation the schema does not list, but not the system catalogs", () => {
    expect(statementMasking(one("select * from made_just_now"), dev, schema).tainted).toBe(true);
    expect(statementMasking(one("select relname from pg_class"), dev, schema).tainted).toBe(false);
    expect(
      statementMasking(one("select table_name from information_schema.tables"), dev, schema).tainted,
    ).toBe(false);
  });

  it("does nothing when no rule applies", () => {
    const none = compileMaskingRules([], { identityName: "dev@demo.local", groups: [] });
    expect(statementMasking(one("select ssn from customers"), none).tainted).toBe(false);
  });
});

describe("views", () => {
  const views: Record<string, TViewSources> = {
    contacts: { columns: [{ table: "public.customers", column: "email" }], functions: ["pg_catalog.upper"] },
    totals: { columns: [{ table: "public.orders", column: "total" }], functions: ["pg_catalog.numeric"] },
    secrets: { columns: [{ table: "public.orders", column: "id" }], functions: ["public.secret_of"] },
    xml: { columns: [], functions: ["pg_catalog.query_to_xml"] },
  };
  const lookup = { ...schema, viewSources: (table: string) => views[table] };

  it("masks a view over masked columns with their strategy, and one calling unknown code wholly", () => {
    expect(viewMasking(dev, views.contacts!)).toEqual({
      strategy: "redact",
      sensitiveRefs: ["customers.email"],
      unknownFunctions: [],
    });
    expect(viewMasking(dev, views.totals!)).toBeNull();
    expect(viewMasking(dev, views.secrets!)?.strategy).toBe("redact");
    expect(viewMasking(dev, views.xml!)?.unknownFunctions).toEqual(["pg_catalog.query_to_xml"]);
  });

  it("taints statements that read such a view, and blocks COPY of it", () => {
    expect(statementMasking(one("select lower(email) from contacts"), dev, lookup).tainted).toBe(true);
    expect(statementMasking(one("select * from secrets"), dev, lookup).tainted).toBe(true);
    expect(statementMasking(one("select total from totals"), dev, lookup).tainted).toBe(false);
    expect(
      statementMasking(one("copy (select * from contacts) to stdout"), dev, lookup).block,
    ).not.toBeNull();
  });
});

describe("views whose columns' origins are known", () => {
  const contacts: TViewSources = {
    columns: [
      { table: "public.customers", column: "email" },
      { table: "public.customers", column: "ssn" },
    ],
    functions: ["pg_catalog.replace"],
    columnOrigins: new Map([
      ["id", [{ table: "public.customers", column: "id" }]],
      ["full_name", [{ table: "public.customers", column: "full_name" }]],
      ["email", [{ table: "public.customers", column: "email" }]],
      ["ssn_digits", null], // replace(ssn, '-', '')
      // Through another view, whose column a rule names.
      [
        "alias",
        [
          { table: "public.directory", column: "alias" },
          { table: "public.customers", column: "full_name" },
        ],
      ],
    ]),
  };
  const viewRule = compileMaskingRules(
    [...rules, { ...rules[0]!, id: "v", columnPattern: "directory.alias", strategy: "hash" }],
    { identityName: "dev@demo.local", groups: [] },
  );
  const info = {
    columnsOf: (t: string) =>
      t === "contacts" ? ["id", "full_name", "email", "ssn_digits", "alias"] : schema.columnsOf(t),
    viewSources: (t: string) => (t === "contacts" ? contacts : undefined),
  };
  const decide = (sql: string) => statementMasking(one(sql), dev, info);

  it("counts only the view's columns that carry masked data or are computed from it", () => {
    for (const sql of ["select count(*) from contacts", "select upper(full_name), id + 1 from contacts"])
      expect(decide(sql), sql).toMatchObject({ tainted: false, block: null });
    // A masked column anywhere in the statement taints it, as a table's does.
    expect(decide("select c.full_name || '!' from contacts c where c.email like '%@%'").tainted).toBe(true);
    expect(decide("select lower(email) from contacts")).toMatchObject({
      tainted: true,
      sensitiveRefs: ["contacts.email"],
      computedStrategy: "redact",
    });
    expect(decide("select length(ssn_digits) from contacts").sensitiveRefs).toEqual(["contacts.ssn_digits"]);
    expect(decide("select * from contacts").tainted).toBe(true);
    expect(decide("select row_to_json(c) from contacts c").tainted).toBe(true);
  });

  it("stores copies of its unmasked columns, not of the masked ones", () => {
    expect(decide("insert into archive select id, full_name from contacts").block).toBeNull();
    for (const sql of [
      "insert into archive select id, email from contacts",
      "create table t as select ssn_digits from contacts",
      "insert into archive select * from contacts",
    ])
      expect(decide(sql).block?.ruleName, sql).toBe("Masked data cannot be copied into tables");
    // COPY out of it, the same: its unmasked columns go, its masked ones do not.
    expect(decide("copy (select id, full_name from contacts) to stdout").block).toBeNull();
    expect(decide("copy (select id, email from contacts) to stdout").block).not.toBeNull();
  });

  it("masks a path by its outermost rule, redacting when its rules disagree", () => {
    const compiled = compileMaskingRules(
      [
        { ...rules[0]!, id: "c", columnPattern: "*.code", strategy: "partial" },
        { ...rules[0]!, id: "t", columnPattern: "customers.api_token", strategy: "redact" },
      ],
      { identityName: "dev@demo.local", groups: [] },
    );
    const through = (base: string) => [
      { table: "public.directory", column: "code" },
      { table: "public.customers", column: base },
    ];
    expect(pathRule(compiled, through("api_token"))).toEqual({
      strategy: "redact",
      table: "public.directory",
      column: "code",
    });
    expect(pathRule(compiled, through("id"))?.strategy).toBe("partial");
    expect(pathRule(compiled, [{ table: "public.customers", column: "id" }])).toBeNull();
  });

  it("applies a rule on a column of a view it passes through", () => {
    expect(statementMasking(one("select lower(alias) from contacts"), viewRule, info)).toMatchObject({
      tainted: true,
      sensitiveRefs: ["contacts.alias"],
    });
    expect(decide("select lower(alias) from contacts").tainted).toBe(false);
  });

  it("without known origins, a view over masked data is masked whole as before", () => {
    const whole = { ...info, viewSources: () => ({ ...contacts, columnOrigins: undefined }) };
    expect(statementMasking(one("select count(*) from contacts"), dev, whole).tainted).toBe(true);
    expect(
      statementMasking(one("insert into archive select id from contacts"), dev, whole).block,
    ).not.toBeNull();
  });
});

describe("maskText", () => {
  const key = Buffer.alloc(32, 7);
  it("partial keeps layout and the last four", () => {
    expect(maskText("partial", "078-05-1120", key)).toBe("***-**-1120");
    expect(maskText("partial", "4111 1111 1111 1111", key)).toBe("**** **** **** 1111");
    expect(maskText("partial", "ada.lovelace@example.com", key)).toBe("a***@example.com");
    expect(maskText("partial", "1234", key)).toBe("****");
  });

  it("format-preserving changes every digit and letter, deterministically", () => {
    const out = maskText("format_preserving", "078-05-1120", key)!;
    expect(out).toMatch(/^\d{3}-\d{2}-\d{4}$/);
    [...out.replace(/-/g, "")].forEach((d, i) => expect(d).not.toBe("078051120"[i]));
    expect(maskText("format_preserving", "078-05-1120", key)).toBe(out);
    expect(maskText("format_preserving", "078-05-1120", Buffer.alloc(32, 8))).not.toBe(out);
  });

  it("partial counts letters beyond the Basic Multilingual Plane as letters", () => {
    expect(maskText("partial", "𠀀𠀁𠀂𠀃", key)).toBe("****");
    expect(maskText("partial", "𠀀𠀁-𠀂𠀃-𠀄𠀅𠀆𠀇𠀈", key)).toBe("**-**-*𠀅𠀆𠀇𠀈");
    expect(maskText("partial", "𠀀bc@example.com", key)).toBe("𠀀***@example.com");
    expect(maskText("partial", "ab 🙂 cd", key)).toBe("** 🙂 **");
  });

  it("hash is HMAC-SHA256 of the value, as earlier releases computed it (masked values stay joinable)", () => {
    for (const value of ["a", "", "Zoë 𠀀", "x".repeat(2000), "y".repeat(70_000)])
      expect(maskText("hash", value, key)).toBe(
        `hash:${createHmac("sha256", key).update(value).digest("hex").slice(0, 16)}`,
      );
  });

  it("hmacSha256Hex matches node's createHmac for short, block-sized and long keys", () => {
    for (const size of [0, 1, 32, 63, 64, 65, 200]) {
      const k = Buffer.from(Array.from({ length: size }, (_, i) => (i * 37 + size) & 0xff));
      for (const value of ["", "value", "ünïcödé 𠀀", "z".repeat(5000)])
        expect(hmacSha256Hex(k, value)).toBe(createHmac("sha256", k).update(value).digest("hex"));
    }
  });

  it("hash is keyed and stable; redact and null reveal nothing", () => {
    expect(maskText("hash", "a", key)).toBe(maskText("hash", "a", key));
    expect(maskText("hash", "a", key)).not.toBe(maskText("hash", "a", Buffer.alloc(32, 1)));
    expect(maskText("redact", "secret", key)).toBe("********");
    expect(maskText("null", "secret", key)).toBeNull();
  });
});
