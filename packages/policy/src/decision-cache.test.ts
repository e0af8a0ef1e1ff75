import { beforeAll, describe, expect, it } from "vitest";
import { analyzeSql, initParser } from "./analyze.ts";
import { AnalysisCache, statementShape } from "./decision-cache.ts";

beforeAll(() => initParser());

describe("statementShape", () => {
  it("blanks number and string literals, keeping everything else", () => {
    expect(statementShape("SELECT abalance FROM pgbench_accounts WHERE aid = 4711;")).toBe(
      "SELECT abalance FROM pgbench_accounts WHERE aid = ?;",
    );
    expect(statementShape("select * from t1 where name = 'O''Brien' and score > -1.5e3 limit 10")).toBe(
      "select * from t1 where name = ? and score > -? limit ?",
    );
    expect(statementShape("select a from t where b = '' and c = .5")).toBe(
      "select a from t where b = ? and c = .?",
    );
  });

  it.each([
    ["escape strings", "select E'\\x27' from t"],
    ["backslashes", "select 'a\\' from t"],
    ["dollar quoting", "select $$x$$ from t"],
    ["parameters", "select a from t where b = $1"],
    ["quoted identifiers", 'select "a" from t'],
    ["line comments", "select a from t -- 1"],
    ["block comments", "select a /* 1 */ from t"],
    ["several statements", "select 1; select 2"],
    ["unicode strings", "select U&'d\\0061t' from t"],
    ["bit strings", "select B'101' from t"],
    ["non-ASCII text", "select 'é' from t"],
    ["hex and underscored numbers", "select 0x1F, 1_000 from t"],
    ["numbers with two dots", "select 1.2.3 from t"],
    ["unterminated strings", "select 'abc from t"],
  ])("gives up on %s", (_label, sql) => {
    expect(statementShape(sql)).toBeNull();
  });
});

describe("AnalysisCache", () => {
  it("reuses a read's analysis for another text of the same shape, with that text", () => {
    const cache = new AnalysisCache();
    const sql = (aid: number) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`;
    cache.analyze(sql(1));
    cache.analyze(sql(2)); // confirms the shape
    expect(cache.misses).toBe(2);
    const third = cache.analyze(sql(3));
    expect(cache.hits).toBe(1);
    expect(third).toEqual(analyzeSql(sql(3)));
    expect(third.ok && third.statements[0]!.text).toBe("SELECT abalance FROM pgbench_accounts WHERE aid = 3");
  });

  it("never reuses a write's analysis across literals (an OR 1 = 1 is unbounded, OR 1 = 2 is not)", () => {
    const cache = new AnalysisCache();
    const unbounded = (sql: string) => {
      const a = cache.analyze(sql);
      return a.ok && a.statements[0]!.unboundedWrite;
    };
    expect(unbounded("delete from orders where id = 7 or 1 = 2")).toBe(false);
    expect(unbounded("delete from orders where id = 7 or 1 = 3")).toBe(false);
    expect(unbounded("delete from orders where id = 7 or 1 = 1")).toBe(true);
    expect(cache.hits).toBe(0);
  });

  it("does not let a shape hide a statement it cannot read", () => {
    const cache = new AnalysisCache();
    for (let i = 0; i < 3; i++) cache.analyze(`select a from t where b = ${i}`);
    const hidden = cache.analyze("select a from t where b = 1; drop table t");
    expect(hidden.ok && hidden.statements.map((s) => s.command)).toEqual(["SelectStmt", "DropStmt"]);
  });

  it("still caches other statements by exact text", () => {
    const cache = new AnalysisCache();
    cache.analyze("update orders set total = 1 where id = 7");
    cache.analyze("update orders set total = 1 where id = 7");
    expect(cache.hits).toBe(1);
  });
});

describe("AnalysisCache and settings", () => {
  it("never lets a harmless set_config() shape stand for one that turns standard_conforming_strings off", () => {
    const cache = new AnalysisCache();
    cache.analyze("select set_config('application_name', 'a', false)");
    cache.analyze("select set_config('application_name', 'b', false)");
    const off = cache.analyze("select set_config('standard_conforming_strings', 'off', false)");
    expect(off.ok && off.statements[0]!.changesQuoting).toBe(true);
  });
});
