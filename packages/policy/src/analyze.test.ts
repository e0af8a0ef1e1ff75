import { beforeAll, describe, expect, it } from "vitest";
import {
  analyzeSql,
  initParser,
  readsDifferentlyWithBackslashEscapes,
  resolvedColumns,
  type TStatementAnalysis,
} from "./analyze.ts";

beforeAll(() => initParser());

function one(sql: string): TStatementAnalysis {
  const result = analyzeSql(sql);
  if (!result.ok) throw new Error(result.error);
  expect(result.statements).toHaveLength(1);
  return result.statements[0]!;
}

describe("analyzeSql", () => {
  it.each([
    ["select count(*) from customers", "read"],
    ["SeLeCt * FrOm public.customers c JOIN orders o ON o.customer_id = c.id", "read"],
    ["insert into orders (customer_id) values (1)", "write"],
    ["update customers set phone = phone where id = 1", "write"],
    ["delete from orders where id = 3", "write"],
    ["with gone as (delete from orders returning *) select count(*) from gone", "write"],
    ["explain analyze delete from orders", "write"],
    ["prepare p as update customers set email = 'x'", "write"],
    ["copy customers from stdin", "write"],
    ["copy customers to stdout", "read"],
    ["copy (select * from customers) to stdout", "read"],
    ["drop table customers", "ddl"],
    ['DROP TABLE "customers"', "ddl"],
    ["alter table customers add column x int", "ddl"],
    ["create index on customers (email)", "ddl"],
    ["grant select on customers to public", "privilege"],
    ["alter role postgres superuser", "privilege"],
    ["begin", "transaction"],
    ["commit", "transaction"],
    ["set search_path = public", "admin"],
    ["show server_version", "admin"],
  ])("classifies %s as %s", (sql, expected) => {
    expect(one(sql).class).toBe(expected);
  });

  it("resolves tables read and written", () => {
    const s = one(
      "insert into orders (customer_id) select id from customers where email like '%@example.com'",
    );
    expect(s.tablesWritten).toEqual(["orders"]);
    expect(s.tablesRead).toEqual(["customers"]);
  });

  it.each([
    ["copy customers to stdout", [], ["customers"]],
    ["alter table customers drop column ssn", ["customers"], []],
    ["create index on orders (total)", ["orders"], []],
    ["select * into archive from customers", ["archive"], ["customers"]],
    ["delete from orders using customers c where c.id = orders.customer_id", ["orders"], ["customers"]],
  ])("finds the target relation of %s", (sql, written, read) => {
    const s = one(sql);
    expect(s.tablesWritten).toEqual(written);
    expect(s.tablesRead).toEqual(read);
  });

  it.each([
    ["select c.ssn, email from customers c", ["customers.email", "customers.ssn"]],
    [
      "select o.total, c.email from orders o join customers c on c.id = o.customer_id",
      ["customers.email", "customers.id", "orders.customer_id", "orders.total"],
    ],
    ["select s from (select ssn as s from customers) t", ["s", "ssn"]],
    ["update customers set phone = null where id = 1", ["customers.id"]],
  ])("resolves referenced columns of %s", (sql, columns) => {
    expect(resolvedColumns(one(sql))).toEqual(columns);
  });

  it("does not report CTE names as tables", () => {
    expect(one("with x as (select * from customers) select * from x").tablesRead).toEqual(["customers"]);
  });

  it("sees through comments and quoting", () => {
    const s = one('/* harmless */ DrOp /* really */ TABLE "customers" -- bye');
    expect(s.destructive).toBe(true);
    expect(s.tablesWritten).toEqual(["customers"]);
  });

  it("splits multi-statement strings and keeps each statement's text", () => {
    const result = analyzeSql("select 1; drop table customers; select 'é;' as x");
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.statements.map((s) => s.text)).toEqual([
      "select 1",
      "drop table customers",
      "select 'é;' as x",
    ]);
    expect(result.statements.map((s) => s.class)).toEqual(["read", "ddl", "read"]);
  });

  it.each([
    ["update customers set phone = null", true],
    ["delete from orders where true", true],
    ["delete from orders where 1 = 1", true],
    ["delete from orders where 1 = 1 or id = 2", true],
    ["truncate orders", true],
    ["delete from orders where id = 1", false],
    ["update customers set phone = phone where id = 1", false],
  ])("flags unbounded writes: %s", (sql, expected) => {
    expect(one(sql).unboundedWrite).toBe(expected);
  });

  it("collects function calls", () => {
    expect(one("select pg_sleep(1), lower(email) from customers").functions).toEqual(["lower", "pg_sleep"]);
  });

  it("fingerprints statements independently of constants", () => {
    expect(one("select * from customers where id = 1").fingerprint).toBe(
      one("select * from customers where id = 42").fingerprint,
    );
  });

  it("reports a parse error instead of throwing", () => {
    const result = analyzeSql("selec * from customers");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/syntax error/);
  });
});

describe("changesQuoting", () => {
  it.each([
    ["set standard_conforming_strings = off", true],
    ["set local standard_conforming_strings to 'off'", true],
    ["SET standard_conforming_strings = 0", true],
    ["select set_config('standard_conforming_strings', 'off', false)", true],
    ["select pg_catalog.set_config(current_setting('x'), 'off', false)", true],
    ["update pg_settings set setting = 'off' where name = 'standard_conforming_strings'", true],
    ["set standard_conforming_strings = on", false],
    ["reset standard_conforming_strings", false],
    ["select set_config('application_name', 'x', false)", false],
    ["select set_config('standard_conforming_strings', 'on', false)", false],
    ["select set_config(name, 'OF', false) from pg_settings", true],
    ["select set_config(name, ' No ', false) from pg_settings", true],
    ["select set_config(name, 'f', false) from pg_settings", true],
    ["select set_config(name, 0::text, false) from pg_settings", true],
    ["select set_config(name, '', false) from pg_settings", true],
    ["select set_config(name, current_setting('x'), false) from pg_settings", true],
    // pg_dump's first statement: no boolean setting reads this value, so it cannot turn quoting off.
    [
      "SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings WHERE name = 'restrict_nonsystem_relation_kind'",
      false,
    ],
    ["set application_name = 'off'", false],
  ])("%s -> %s", (sql, expected) => {
    expect(one(sql).changesQuoting).toBe(expected);
  });
});

describe("preparedStatement", () => {
  it.each([
    ["prepare q(int) as select email from customers where id = $1", { op: "prepare", name: "q" }],
    ['EXECUTE "Q"(1)', { op: "execute", name: "Q" }],
    ["deallocate prepare q", { op: "deallocate", name: "q" }],
    ["deallocate all", { op: "deallocate", name: null }],
    ["discard all", { op: "deallocate", name: null }],
    ["discard plans", null],
    ["select 1", null],
  ])("%s", (sql, expected) => {
    expect(one(sql).preparedStatement).toEqual(expected);
  });
});

describe("cursor", () => {
  it.each([
    ['declare "SQL_CUR0x1" cursor with hold for select 1', { op: "declare", name: "SQL_CUR0x1" }],
    ["fetch forward 100 from _psql_cursor", { op: "fetch", name: "_psql_cursor" }],
    ["move 5 in c", { op: "fetch", name: "c" }],
    ["close c", { op: "close", name: "c" }],
    ["close all", { op: "close", name: null }],
    ["discard all", { op: "close", name: null }],
    ["select 1", undefined],
  ])("%s", (sql, expected) => {
    expect(one(sql).cursor).toEqual(expected);
  });
});

describe("changesEncoding", () => {
  it.each([
    ["set client_encoding to 'SJIS'", true],
    ["set names 'big5'", true],
    ["set client_encoding = 'Shift_JIS'", true],
    ["select set_config('client_encoding', 'GBK', true)", true],
    ["select set_config(name, 'win932', false) from pg_settings", true],
    ["select set_config('client_encoding', $1, false)", true],
    ["set client_encoding to 'UTF8'", false],
    ["set client_encoding to 'LATIN1'", false],
    ["reset client_encoding", false],
    ["select set_config(name, 'view, foreign-table', false) from pg_settings where name = 'x'", false],
  ])("%s", (sql, expected) => {
    expect(one(sql).changesEncoding ?? false).toBe(expected);
  });
});

describe("transaction", () => {
  it.each([
    ["begin", "begin"],
    ["start transaction isolation level serializable", "begin"],
    ["commit", "commit"],
    ["end", "commit"],
    ["prepare transaction 'x'", "commit"],
    ["rollback", "rollback"],
    ["savepoint a", "savepoint"],
    ["release a", "savepoint"],
    ["rollback to a", "savepoint"],
    ["select 1", undefined],
  ])("%s", (sql, expected) => {
    expect(one(sql).transaction).toEqual(expected);
  });
});

describe("copyOut", () => {
  const base = {
    format: "text",
    delimiter: "\t",
    quote: '"',
    escape: '"',
    nullString: "\\N",
    header: false,
    encoding: null,
    toClient: true,
    relation: null,
    columns: null,
  };
  it.each([
    ["copy customers to stdout", { ...base, relation: "customers" }],
    [
      String.raw`copy public.customers (id, email) to stdout with csv header delimiter ';' quote '''' escape '\' null 'NULL'`,
      {
        ...base,
        format: "csv",
        delimiter: ";",
        quote: "'",
        escape: "\\",
        nullString: "NULL",
        header: true,
        relation: "public.customers",
        columns: ["id", "email"],
      },
    ],
    [
      "copy (select id, email as e, lower(name), note::text, 1 + 1 from t union select * from u) to stdout (format csv, header false)",
      {
        ...base,
        format: "csv",
        delimiter: ",",
        nullString: "",
        columns: ["id", "e email", "lower", "note", "?column?"],
      },
    ],
    ["copy (select t.* from t) to stdout", base],
    ["copy t to stdout binary", { ...base, format: "binary", relation: "t" }],
    [
      "copy t to '/tmp/t' (encoding 'latin1')",
      { ...base, relation: "t", encoding: "latin1", toClient: false },
    ],
    ["copy t to program 'gzip > /tmp/t.gz'", { ...base, relation: "t", toClient: false }],
    // Postgres reads a number as its text (defGetString).
    [
      "copy t to stdout (format csv, delimiter 1, header 1)",
      { ...base, format: "csv", delimiter: "1", nullString: "", header: true, relation: "t" },
    ],
  ])("%s", (sql, expected) => {
    expect(one(sql).copyOut).toEqual(expected);
  });

  it("is absent from COPY ... FROM and other statements", () => {
    expect(one("copy t from stdin").copyOut).toBeUndefined();
    expect(one("select 1").copyOut).toBeUndefined();
  });
});

describe("readsDifferentlyWithBackslashEscapes", () => {
  it.each([
    ["the smuggling shape", String.raw`select '\' as a, '; drop table t; --' as b`],
    ["a LIKE pattern with an escape", String.raw`select * from t where name like 'a\_b'`],
    ["a regular expression", String.raw`select 'x1' ~ '\d'`],
    ["a Windows path", String.raw`insert into files values ('C:\temp')`],
    ["text the scanner cannot finish", "select 'abc\\"],
  ])("is true for %s", (_what, sql) => {
    expect(readsDifferentlyWithBackslashEscapes(sql)).toBe(true);
  });

  it.each([
    ["no backslash at all", "select 'plain', 1"],
    ["an E'' string (the same either way)", String.raw`select E'line\nbreak'`],
    ["a dollar-quoted string", String.raw`select $$a\b$$`],
    ["a quoted identifier", String.raw`select 1 as "odd\name"`],
    ["a comment", String.raw`select 1 -- C:\temp`],
    ["a block comment", String.raw`select /* \ */ 1`],
  ])("is false for %s", (_what, sql) => {
    expect(readsDifferentlyWithBackslashEscapes(sql)).toBe(false);
  });
});
