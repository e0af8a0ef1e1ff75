// A corpus of statements a developer might send to production, hostile spellings included, and what the
// production baseline plus the demo's "developer writes need approval" rule decide for each.
import { beforeAll, describe, expect, it } from "vitest";
import { analyzeSql, initParser } from "./analyze.ts";
import {
  compileGuardrails,
  decideUnparseable,
  evaluateGuardrails,
  PRODUCTION_BASELINE,
  type TGuardrail,
} from "./guardrails.ts";

beforeAll(() => initParser());

const rules = compileGuardrails([
  ...PRODUCTION_BASELINE.map((r, i) => ({ ...r, id: `b${i}` })),
  {
    id: "dev-writes",
    name: "Developer writes need approval",
    priority: 28,
    action: "require_approval",
    message: "writes need approval",
    match: { identities: ["dev@demo.local"], classes: ["write"] },
  } satisfies TGuardrail,
]);
const ctx = {
  environment: "production",
  identityName: "dev@demo.local",
  identityKind: "human" as const,
  groups: [],
};

function decide(sql: string): "allow" | "block" | "require_approval" {
  const result = analyzeSql(sql);
  if (!result.ok) return decideUnparseable(ctx, result.error).action;
  const actions = result.statements.map((s) => evaluateGuardrails(s, ctx, rules).action);
  return actions.includes("block")
    ? "block"
    : actions.includes("require_approval")
      ? "require_approval"
      : "allow";
}

const ALLOW = [
  "select 1",
  "SELECT count(*) FROM customers",
  "select * from customers where id = 1",
  "select c.full_name, o.total from customers c join orders o on o.customer_id = c.id",
  "with recent as (select * from orders where ordered_at > now() - interval '7 days') select count(*) from recent",
  "select * from customers order by id limit 10 offset 20",
  "select distinct city from customers",
  "select city, count(*) from customers group by city having count(*) > 1",
  "select * from customers where email like '%@example.com'",
  "select * from customers where id in (select customer_id from orders)",
  "select exists (select 1 from orders where total > 100)",
  "select row_number() over (partition by city order by id) from customers",
  "select * from customers for update",
  "select now(), current_user, version()",
  "select 'drop table customers' as harmless_text",
  "select $$drop table customers$$",
  'select * from "customers"',
  "select /* drop table customers */ 1",
  "-- drop table customers\nselect 1",
  "begin",
  "begin isolation level serializable",
  "commit",
  "rollback",
  "savepoint s1",
  "release savepoint s1",
  "set search_path = public",
  "set statement_timeout = '5s'",
  "show search_path",
  "reset all",
  "discard all",
  "listen channel",
  "explain select * from customers",
  "declare c cursor for select * from customers",
  "fetch 10 from c",
  "close c",
  "deallocate all",
  "execute p",
  "copy customers to stdout",
  "copy (select * from orders) to stdout with csv",
  "table customers",
  "values (1), (2)",
  "select pg_sleep(0.1)",
  "vacuum analyze customers",
  "analyze customers",
  "",
  ";",
];

const NEEDS_APPROVAL = [
  "insert into orders (customer_id, product, quantity, total) values (1, 'x', 1, 1)",
  "update customers set phone = phone where id = 1",
  "UPDATE customers SET phone = NULL",
  "delete from orders where id = 1",
  "delete from orders",
  "delete from orders where true",
  "delete from orders where 1 = 1",
  "merge into orders o using customers c on o.customer_id = c.id when matched then update set total = 0",
  "with gone as (delete from orders returning *) select count(*) from gone",
  "with u as (update customers set phone = '' returning id) select * from u",
  "explain analyze delete from orders",
  "explain (analyze true) update customers set phone = ''",
  "prepare p as delete from orders",
  "copy orders from stdin",
  "insert into orders select * from orders",
  "select setval('orders_id_seq', 1)",
  "select pg_catalog.setval('orders_id_seq', 1)",
  "create table t (id int)",
  "create temp table t as select * from customers",
  "select * into archive from customers",
  "create index on customers (email)",
  "create unique index concurrently i on orders (id)",
  "alter table customers add column x int",
  "alter table customers rename to clients",
  "alter table customers alter column email drop not null",
  "comment on table customers is 'x'",
  "create view v as select * from customers",
  "create extension if not exists pgcrypto",
  "create schema s",
  "do $$ begin delete from orders; end $$",
  "DO LANGUAGE plpgsql $$ BEGIN EXECUTE 'DROP TABLE customers'; END $$",
  "create function f() returns void as $$ delete from orders $$ language sql",
  "create or replace procedure p() language sql as $$ delete from orders $$",
  "call p()",
  "create trigger t after insert on orders for each row execute function f()",
  "create rule r as on select to orders do instead nothing",
  "load 'plpgsql'",
  "copy orders to program 'cat > /tmp/x'",
  "copy orders from program 'echo 1'",
  "select 1; delete from orders",
  "select 1; update customers set phone = null",
];

const BLOCK = [
  "drop table customers",
  "DROP TABLE IF EXISTS customers CASCADE",
  'drop table "customers"',
  "drop table public.customers",
  "/* hi */ DrOp TaBlE customers",
  "drop table customers, orders",
  "drop view v",
  "drop schema public cascade",
  "drop database postgres",
  "drop index i",
  "drop function f",
  "drop owned by postgres",
  "truncate orders",
  "TRUNCATE TABLE orders RESTART IDENTITY CASCADE",
  "truncate only orders",
  "select 1; drop table customers",
  "begin; drop table customers; commit",
  "grant select on customers to public",
  "grant all privileges on all tables in schema public to public",
  "revoke select on customers from public",
  "create role r superuser",
  "create user u with password 'x'",
  "alter role postgres with password 'x'",
  "alter user postgres nosuperuser",
  "drop role r",
  "alter default privileges grant select on tables to public",
  "reassign owned by postgres to r",
  "alter system set log_statement = 'none'",
  "set role postgres",
  "set session authorization postgres",
  "create policy p on customers using (true)",
  "select pg_terminate_backend(pid) from pg_stat_activity",
  "select pg_cancel_backend(1)",
  "select pg_reload_conf()",
  "select pg_read_file('/etc/passwd')",
  "selec * from customers",
  "drop tabel customers",
  "select * from customers where",
  "$$",
];

describe("production corpus", () => {
  it.each(ALLOW)("allows %j", (sql) => expect(decide(sql)).toBe("allow"));
  it.each(NEEDS_APPROVAL)("holds for approval %j", (sql) => expect(decide(sql)).toBe("require_approval"));
  it.each(BLOCK)("blocks %j", (sql) => expect(decide(sql)).toBe("block"));

  it("is a corpus of substance", () => {
    expect(ALLOW.length + NEEDS_APPROVAL.length + BLOCK.length).toBeGreaterThan(120);
  });
});
