import { beforeAll, describe, expect, it } from "vitest";
import { analyzeSql, initParser } from "./analyze.ts";
import {
  compileGuardrails,
  decideUnparseable,
  evaluateGuardrails,
  PRODUCTION_BASELINE,
  type TGuardrail,
  type TRequestContext,
} from "./guardrails.ts";

beforeAll(() => initParser());

const baseline: TGuardrail[] = PRODUCTION_BASELINE.map((rule, i) => ({ ...rule, id: `baseline-${i}` }));
const dev: TRequestContext = {
  environment: "production",
  identityName: "dev@demo.local",
  identityKind: "human",
  groups: [],
};

function decide(sql: string, rules: TGuardrail[] = baseline, ctx: TRequestContext = dev) {
  const result = analyzeSql(sql);
  if (!result.ok) return decideUnparseable(ctx, result.error);
  return (
    result.statements
      .map((s) => evaluateGuardrails(s, ctx, compileGuardrails(rules)))
      .find((d) => d.action !== "allow") ?? {
      action: "allow" as const,
      ruleName: "",
      ruleId: "",
      message: "",
    }
  );
}

describe("production baseline", () => {
  it.each([
    "drop table customers",
    "DROP TABLE IF EXISTS customers CASCADE",
    "/**/drop/**/table/**/customers",
    "truncate orders",
    "select 1; drop table customers",
  ])("blocks destructive DDL: %s", (sql) => {
    const d = decide(sql);
    expect(d.action).toBe("block");
    expect(d.ruleName).toBe("Block destructive DDL");
  });

  it("blocks privilege changes", () => {
    expect(decide("grant all on customers to public").action).toBe("block");
  });

  it.each([
    "alter table customers drop column ssn",
    "create table t (id int)",
    "update customers set phone = null",
    "do $$ begin delete from orders; end $$",
  ])("requires approval: %s", (sql) => {
    expect(decide(sql).action).toBe("require_approval");
  });

  it.each([
    "select set_config('role', 'pg_monitor', false)",
    "select set_config('SESSION_AUTHORIZATION', 'pg_monitor', false)",
    "select set_config(name, 'pg_monitor', false) from pg_settings where name = 'role'",
    "update pg_settings set setting = 'pg_monitor' where name = 'role'",
    "alter table customers owner to pg_monitor",
    "create schema reports grant select on tables to public",
  ])("blocks privilege changes made without a privilege statement: %s", (sql) => {
    expect(decide(sql).action).toBe("block");
    expect(analyzeSql(sql)).toMatchObject({ ok: true, statements: [{ class: "privilege" }] });
  });

  it.each([
    "select query_to_xml('select pg_terminate_backend(42)', true, false, '')",
    "select * from ts_stat('select to_tsvector(pg_catalog.pg_reload_conf()::text)')",
    "select lo_import('/etc/hostname')",
    "select lo_export(42, '/tmp/x')",
    "select pg_ls_waldir()",
    "select ts_rewrite('a'::tsquery, 'select ''a''::tsquery, ''b''::tsquery where pg_terminate_backend(42)')",
    "select * from crosstab('select 1::text, 1::text, pg_terminate_backend(42)::text') as t(a text, b text)",
    "update pg_class set relname = 'renamed' where relname = 'victim'",
    "update pg_attribute set attname = 'tok' where attname = 'api_token'",
  ])("blocks server administration reached through other built-ins: %s", (sql) => {
    expect(decide(sql)).toMatchObject({ action: "block" });
  });

  it.each([
    "delete from orders where not false",
    "delete from orders where 't'::bool",
    "update orders set total = 0 where 1 < 2",
    "delete from orders where id = id",
    "merge into orders o using (select 1) s on true when matched then delete",
    "merge into orders o using (select 1 as x) s on 1 = 1 when matched then update set total = 0",
    "explain analyze create table made as select 1",
    "explain (analyze) select * into made from orders",
    "explain analyze create materialized view made as select 1",
    "select query_to_xml(current_setting('x'), true, false, '')",
    "copy orders to '/tmp/orders.copy'",
    "copy orders from '/tmp/orders.copy'",
    "select * from connectby('tree', 'id', 'parent', '1', 0) as t(id text, parent text, level int)",
    "insert into orders select id, 0 from orders on conflict (id) do update set total = excluded.total",
  ])("holds for approval: %s", (sql) => {
    expect(decide(sql).action).toBe("require_approval");
  });

  it.each([
    "select query_to_xml('select id from orders', true, false, '')",
    // pg_dump's first statement.
    "SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings WHERE name = 'restrict_nonsystem_relation_kind'",
    "delete from orders where current of c",
    "merge into orders o using incoming s on o.id = s.id when matched then update set total = s.total",
    "explain analyze select 1",
    "select ts_rewrite('a & b'::tsquery, 'a'::tsquery, 'c'::tsquery)",
    "insert into orders values (1, 2) on conflict (id) do update set total = excluded.total",
  ])("still allows %s", (sql) => {
    expect(decide(sql).action).toBe("allow");
  });

  it.each([
    "select * from customers",
    "update customers set phone = phone where id = 1",
    "begin",
    "show search_path",
  ])("allows %s", (sql) => {
    expect(decide(sql).action).toBe("allow");
  });

  it("fails closed on unparseable text in production only", () => {
    expect(decide("selec 1").action).toBe("block");
    expect(decide("selec 1", baseline, { ...dev, environment: "development" }).action).toBe("allow");
  });
});

describe("rule matching", () => {
  const devWrites: TGuardrail = {
    id: "dev-writes",
    name: "Developer writes need approval",
    priority: 5,
    action: "require_approval",
    message: "Writes by developers need an approval",
    match: { classes: ["write"], identities: ["dev@demo.local"] },
  };

  it("matches on identity and class", () => {
    expect(decide("insert into orders (customer_id) values (1)", [devWrites]).ruleId).toBe("dev-writes");
    expect(
      decide("insert into orders (customer_id) values (1)", [devWrites], {
        ...dev,
        identityName: "copilot@demo.local",
      }).action,
    ).toBe("allow");
  });

  it("matches tables by prefix pattern and schema-qualified names", () => {
    const rule: TGuardrail = {
      id: "t",
      name: "No audit tables",
      priority: 1,
      action: "block",
      message: "no",
      match: { tables: ["audit_*"] },
    };
    expect(decide("select * from public.audit_log", [rule]).action).toBe("block");
    expect(decide("select * from customers", [rule]).action).toBe("allow");
  });

  it("blocks in production when a rule's criteria are invalid", () => {
    const broken: TGuardrail = {
      id: "b",
      name: "Broken",
      priority: 1,
      action: "allow",
      message: "",
      match: { clases: ["read"] },
    };
    expect(decide("select 1", [broken]).action).toBe("block");
    expect(decide("select 1", [broken], { ...dev, environment: "staging" }).action).toBe("allow");
  });
});
