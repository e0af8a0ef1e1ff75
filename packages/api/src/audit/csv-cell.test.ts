import { describe, expect, it } from "vitest";
import { csvCell } from "./csv-cell.ts";

describe("csvCell", () => {
  it("quotes what CSV needs quoted, and joins arrays", () => {
    expect(csvCell("select 1")).toBe("select 1");
    expect(csvCell('say "hi", then go')).toBe('"say ""hi"", then go"');
    expect(csvCell(["public.a", "public.b"])).toBe("public.a;public.b");
    expect(csvCell(null)).toBe("");
    expect(csvCell(42)).toBe("42");
  });

  it("defuses every start a spreadsheet reads as a formula, full-width forms included", () => {
    for (const start of ["=", "+", "-", "@", "\t", "\r", "\n", "\uFF1D", "\uFF0B", "\uFF0D", "\uFF20"]) {
      const cell = csvCell(`${start}HYPERLINK("http://evil.example","x")`);
      expect({ start, cell: cell.replace(/^"/, "").startsWith(`'${start}`) }).toEqual({ start, cell: true });
    }
    expect(csvCell("-- a comment")).toBe("'-- a comment");
    expect(csvCell("a=1")).toBe("a=1");
  });
});
