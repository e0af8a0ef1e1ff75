import { describe, expect, it } from "vitest";
import { buildCatalog } from "./catalog.ts";

// Rows as CATALOG_SQL returns them: 'c' kind, oid, schema, table, attnum, column; 'd' kind, view oid, "",
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

  it("knows what a view reads, through the views it reads", () => {
    expect(catalog.viewSources("contacts")).toEqual({
      columns: [{ table: "public.customers", column: "ssn" }],
      functions: ["pg_catalog.upper"],
    });
    expect(catalog.viewSources("public.contacts_again")).toEqual({
      columns: [{ table: "public.customers", column: "ssn" }],
      functions: ["pg_catalog.upper", "public.secret_of"],
    });
    // A whole-row reference reads every column.
    expect(catalog.viewSources("app.whole_rows")?.columns.map((c) => c.column)).toEqual(["id", "ssn"]);
    expect(catalog.viewSources("customers")).toBeUndefined();
  });

  it("terminates on views that read each other", () => {
    expect(catalog.viewSources("loop_a")).toEqual({ columns: [], functions: [] });
  });

  it("knows the functions defined outside pg_catalog", () => {
    expect([...catalog.userFunctions]).toEqual(["lower"]);
  });

  it("still maps table and view columns", () => {
    expect(catalog.origin(2, 2)).toEqual({ table: "public.contacts", column: "ssn" });
    expect(catalog.columnsOf("customers")).toEqual(["id", "ssn"]);
  });
});
