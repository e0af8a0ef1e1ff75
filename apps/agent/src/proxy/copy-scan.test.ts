import type { TCopyOut } from "@portcullis/policy";
import { describe, expect, it } from "vitest";
import { CopyRowError, scanCopyRow } from "./copy-scan.ts";

const TEXT: TCopyOut = {
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
const CSV: TCopyOut = { ...TEXT, format: "csv", delimiter: ",", nullString: "" };

/** Scans with a "detector" that masks the word secret, and records the values it was given. */
function scan(row: string, format: TCopyOut) {
  const seen: (string | number)[][] = [];
  const out = scanCopyRow(Buffer.from(row), format, (value, index, count) => {
    seen.push([value, index, count]);
    return value.includes("secret") ? value.replaceAll("secret", "******") : null;
  });
  return { out: out?.toString() ?? null, seen };
}

describe("scanCopyRow, text format", () => {
  it("unescapes each value for the detectors and leaves rows with nothing found untouched", () => {
    const { out, seen } = scan("1\ta\\tb\\\\c\\nd\\101\\x41\\N\t\\N\t\n", TEXT);
    expect(out).toBeNull();
    // \N inside a value is N; a field that is exactly \N is NULL and not scanned; an empty field is "".
    expect(seen).toEqual([
      ["1", 0, 4],
      ["a\tb\\c\ndAAN", 1, 4],
      ["", 3, 4],
    ]);
  });

  it("writes a changed value back with COPY's escapes, and the rest of the row byte for byte", () => {
    expect(scan("7\tmy secret\\tis\\\\here\\n\t\\N\tx\\ty\n", TEXT).out).toBe(
      "7\tmy ******\\tis\\\\here\\n\t\\N\tx\\ty\n",
    );
    const pipe = { ...TEXT, delimiter: "|" };
    expect(scan("a\\|secret|b\n", pipe).out).toBe("a\\|******|b\n");
    // A masked value that would read as the NULL marker is escaped so it stays a string.
    const odd = { ...TEXT, nullString: "******" };
    expect(scan("secret\n", odd).out).toBe("\\******\n");
  });

  it("refuses a row that ends inside an escape", () => {
    expect(() => scan("a\\", TEXT)).toThrow(CopyRowError);
  });
});

describe("scanCopyRow, CSV", () => {
  it("reads quoted values with doubled quotes, delimiters and line breaks; only an unquoted empty field is NULL", () => {
    const { out, seen } = scan('1,"a ""b"", c\nd",,""\n', CSV);
    expect(out).toBeNull();
    expect(seen).toEqual([
      ["1", 0, 4],
      ['a "b", c\nd', 1, 4],
      ["", 3, 4],
    ]);
  });

  it("quotes a changed value only where Postgres would", () => {
    expect(scan('"x,y",secret,"the ""secret"""\n', CSV).out).toBe('"x,y",******,"the ""******"""\n');
    expect(scan('"secret,"\n', CSV).out).toBe('"******,"\n');
  });

  it("follows other quote and escape characters", () => {
    const custom = { ...CSV, delimiter: "|", quote: "'", escape: "\\", nullString: "NULL" };
    const { out, seen } = scan("'it\\'s \\\\ secret|x'|NULL|'NULL'\n", custom);
    expect(seen.map((s) => s[0])).toEqual(["it's \\ secret|x", "NULL"]);
    expect(out).toBe("'it\\'s \\\\ ******|x'|NULL|'NULL'\n");
  });

  it("refuses a row that ends inside quotes", () => {
    expect(() => scan('1,"open\n', CSV)).toThrow(CopyRowError);
  });
});
