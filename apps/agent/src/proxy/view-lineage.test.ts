import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { viewColumnOrigins } from "./view-lineage.ts";

// pg_rewrite.ev_action of this view, as PostgreSQL 15 stored it (lineage_base had OID 18920, lineage_inner
// 18925):
//   create view lineage_v as select t.id, x.email, replace(ssn, '-', '') as d, t as whole, (select 1) as one,
//     i.ident from lineage_base t join (select id, email from lineage_base) x using (id)
//     join lineage_inner i on i.ident = t.id where t.email like '%@%' order by ssn;
const stored = readFileSync(new URL("./__fixtures__/view-query-pg15.txt", import.meta.url), "utf8");

describe("viewColumnOrigins", () => {
  it("gives plain columns their origin, through joins, subqueries and other views", () => {
    expect(Object.fromEntries(viewColumnOrigins(stored)!)).toEqual({
      1: { tableOid: 18920, attnum: 1 }, // t.id
      2: { tableOid: 18920, attnum: 2 }, // x.email, from the subquery's lineage_base.email
      3: null, // replace(ssn, ...): computed
      4: null, // a whole row
      5: null, // a scalar subquery
      6: { tableOid: 18925, attnum: 1 }, // a column of another view
      // The ORDER BY's hidden column (resjunk) is not a column of the view.
    });
  });

  it("gives nothing for text it cannot read", () => {
    for (const text of [
      "",
      "garbage",
      "({QUERY :targetList ({TARGETENTRY :expr {VAR} :resno 1 :resorigtbl 5 :resorigcol 1})",
      "({QUERY :targetList <>})",
      "({QUERY} {QUERY})",
      "({SELECT :targetList ()})",
      "({QUERY :targetList ({TARGETENTRY :expr {VAR} :resno x :resorigtbl 5 :resorigcol 1})})",
      `${"(".repeat(5000)}${")".repeat(5000)}`,
      stored.slice(0, stored.length / 2),
    ])
      expect(viewColumnOrigins(text), text.slice(0, 40)).toBeNull();
  });

  it("reads escaped tokens and a Const's datum bytes without losing its place", () => {
    const text =
      "({QUERY :targetList ({TARGETENTRY :expr {CONST :consttype 25 :constvalue 5 [ 20 0 0 0 45 ]} " +
      ":resno 1 :resname \\(odd\\ name\\) :resorigtbl 0 :resorigcol 0 :resjunk false} " +
      "{TARGETENTRY :expr {VAR :varno 1 :varattno 2} :resno 2 :resname \\:x :resorigtbl 77 :resorigcol 2 " +
      ":resjunk false}) :override 0})";
    expect(Object.fromEntries(viewColumnOrigins(text)!)).toEqual({
      1: null,
      2: { tableOid: 77, attnum: 2 },
    });
  });
});
