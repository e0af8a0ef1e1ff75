import { describe, expect, it } from "vitest";
import { buildCatalog } from "./catalog.ts";

// A view's stored query (pg_rewrite.ev_action) whose target list is the given [resno, origin table OID,
// origin attnum] entries, plain column references when the OID is not 0.
const storedQuery = (entries: [number, number, number][]) =>
  `({QUERY :targetList (${entries
    .map(
      ([resno, oid, attnum]) =>
        `{TARGETENTRY :expr ${oid ? "{VAR :varno 1}" : "{FUNCEXPR :funcid 1}"} :resno ${resno} :resname c${resno} :resorigtbl ${oid} :resorigcol ${attnum} :resjunk false}`,
    )
    .join(" ")})})`;

// Rows as CATALOG_SQL returns them: 'c' kind, oid, schema, table, attnum, column, type; 'd' kind, view oid, "",
// function, attnum, "", relation oid.
const rows = [
  ["c", "1", "public", "customers", "1", "id", ""],
  ["c", "1", "public", "customers", "2", "ssn", ""],
  ["c", "2", "public", "contacts", "1", "id", ""],
  ["c", "2", "public", "contacts", "2", "ssn", ""],
  ["c", "3", "public", "contacts_again", "1", "id", ""],
  ["c", "4", "app", "whole_rows", "1", "c", ""],
  ["c", "5", "public", "loop_a", "1", "x", ""],
  ["c", "6", "public", "loop_b", "1", "x", ""],
  ["d", "2", "", "", "2", "", "1"],
  ["d", "2", "", "pg_catalog.upper", "0", "", ""],
  ["d", "3", "", "", "1", "", "2"],
  ["d", "3", "", "public.secret_of", "0", "", ""],
  ["d", "4", "", "", "0", "", "1"],
  ["d", "5", "", "", "1", "", "6"],
  ["d", "6", "", "", "1", "", "5"],
  ["f", "0", "", "lower", "0", "", ""],
];

describe("buildCatalog", () => {
  const catalog = buildCatalog(rows);

  it("relates each partition or inheritance child to all its ancestors, and each ancestor to its descendants", () => {
    const family = buildCatalog([
      ["c", "10", "public", "events", "1", "id", ""],
      ["c", "11", "public", "events_p1", "1", "id", ""],
      ["c", "12", "public", "events_p2", "1", "id", ""],
      ["c", "13", "app", "events_p2a", "1", "id", ""],
      ["i", "11", "", "", "0", "", "10"],
      ["i", "12", "", "", "0", "", "10"],
      ["i", "13", "", "", "0", "", "12"],
    ]);
    const sorted = (name: string) => [...(family.relatives.get(name) ?? [])].sort();
    expect(sorted("app.events_p2a")).toEqual(["public.events", "public.events_p2"]);
    expect(sorted("public.events")).toEqual(["app.events_p2a", "public.events_p1", "public.events_p2"]);
    // Siblings are not relatives: a rule on one partition says nothing of another's rows.
    expect(sorted("public.events_p1")).toEqual(["public.events"]);
    expect(catalog.relatives.size).toBe(0);
  });

  it("reads the types user casts convert", () => {
    expect(buildCatalog([["k", "0", "", "boxed", "0", "", ""]]).userCastTypes).toEqual(new Set(["boxed"]));
  });

  it("knows a relation's column types where its name stands for one relation", () => {
    const typed = buildCatalog([
      ["c", "1", "public", "ledger", "1", "id", "23"],
      ["c", "1", "public", "ledger", "2", "note", "25"],
      ["c", "7", "audit", "ledger", "1", "id", "20"],
    ]);
    expect(typed.columnTypes("public.ledger")).toEqual(
      new Map([
        ["id", 23],
        ["note", 25],
      ]),
    );
    expect(typed.columnTypes("audit.ledger")).toEqual(new Map([["id", 20]]));
    // Two schemas' ledger: which one a bare name means depends on the search path.
    expect(typed.columnTypes("ledger")).toBeUndefined();
    expect(typed.columnTypes("missing")).toBeUndefined();
  });

  it("lists the columns COPY writes: all but generated ones; a domain's type is left unknown", () => {
    const typed = buildCatalog([
      ["c", "1", "public", "refs", "1", "id", "23", ""],
      ["c", "1", "public", "refs", "2", "doubled", "23", "s"],
      ["c", "1", "public", "refs", "3", "contact", "", ""],
    ]);
    expect(typed.copyColumnsOf("refs")).toEqual(["id", "contact"]);
    expect(typed.columnsOf("refs")).toEqual(["id", "doubled", "contact"]);
    expect(typed.columnTypes("refs")?.has("contact")).toBe(false);
  });

  it("knows what a view reads, through the views it reads", () => {
    expect(catalog.viewSources("contacts")).toEqual({
      columns: [{ table: "public.customers", column: "ssn" }],
      functions: ["pg_catalog.upper"],
    });
    // The view's columns it reads count too: a rule may name a view's column.
    expect(catalog.viewSources("public.contacts_again")).toEqual({
      columns: [
        { table: "public.contacts", column: "id" },
        { table: "public.customers", column: "ssn" },
      ],
      functions: ["pg_catalog.upper", "public.secret_of"],
    });
    // A whole-row reference reads every column.
    expect(catalog.viewSources("app.whole_rows")?.columns.map((c) => c.column)).toEqual(["id", "ssn"]);
    expect(catalog.viewSources("customers")).toBeUndefined();
  });

  it("knows the columns each column of a view carries, through the views it reads", () => {
    const withQueries = buildCatalog([
      ...rows,
      ["c", "2", "public", "contacts", "3", "shout", ""],
      ["c", "7", "public", "snapshot", "1", "id", ""],
      ["c", "8", "public", "stored", "1", "ssn", ""],
      ["d", "7", "", "", "1", "", "2"],
      ["d", "8", "", "", "2", "", "1"],
      // contacts: id is customers.id, ssn is customers.ssn, shout is computed.
      [
        "q",
        "2",
        "v",
        storedQuery([
          [1, 1, 1],
          [2, 1, 2],
          [3, 0, 0],
        ]),
        "0",
        "",
        "",
      ],
      // contacts_again: its id is contacts.id.
      ["q", "3", "v", storedQuery([[1, 2, 1]]), "0", "", ""],
      // whole_rows: a stored query the reader cannot read.
      ["q", "4", "v", "({QUERY :targetList", "0", "", ""],
      // snapshot, a materialized view of contacts.id; stored, one of customers.ssn.
      ["q", "7", "m", storedQuery([[1, 2, 1]]), "0", "", ""],
      ["q", "8", "m", storedQuery([[1, 1, 2]]), "0", "", ""],
    ]);
    const customersId = { table: "public.customers", column: "id" };
    expect(withQueries.viewColumnPath(2, 1)).toEqual([customersId]);
    expect(withQueries.viewColumnPath(2, 3)).toBeNull();
    // Through another view: its column first, so a rule on it applies too.
    expect(withQueries.viewColumnPath(3, 1)).toEqual([
      { table: "public.contacts", column: "id" },
      customersId,
    ]);
    expect(withQueries.viewColumnPath(4, 1)).toBeNull();
    expect(withQueries.viewColumnPath(1, 1)).toBeNull(); // a table, not a view
    // A materialized view holds what a view gave at its last refresh: not followed into the view...
    expect(withQueries.viewColumnPath(7, 1)).toBeNull();
    expect(withQueries.viewSources("snapshot")?.functions).toContain(
      "(a view as it was when the materialized view was refreshed)",
    );
    // ...but into a table, yes.
    expect(withQueries.viewColumnPath(8, 1)).toEqual([{ table: "public.customers", column: "ssn" }]);
    expect(withQueries.viewSources("stored")?.functions).toEqual([]);
    expect(withQueries.viewSources("contacts")?.columnOrigins).toEqual(
      new Map([
        ["id", [customersId]],
        ["ssn", [{ table: "public.customers", column: "ssn" }]],
        ["shout", null],
      ]),
    );
    // A stored query that cannot be read, or none: no origins, so the view is masked whole.
    expect(withQueries.viewSources("app.whole_rows")?.columnOrigins).toBeUndefined();
    expect(catalog.viewSources("contacts")?.columnOrigins).toBeUndefined();
  });

  it("terminates on views that read each other", () => {
    expect(catalog.viewSources("loop_a")?.functions).toEqual([]);
    expect(
      catalog
        .viewSources("loop_a")
        ?.columns.map((c) => c.table)
        .sort(),
    ).toEqual(["public.loop_a", "public.loop_b"]);
  });

  it("knows the functions defined outside pg_catalog", () => {
    expect([...catalog.userFunctions]).toEqual(["lower"]);
  });

  it("still maps table and view columns", () => {
    expect(catalog.origin(2, 2)).toEqual({ table: "public.contacts", column: "ssn" });
    expect(catalog.columnsOf("customers")).toEqual(["id", "ssn"]);
  });
});
