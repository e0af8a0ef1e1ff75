import { createHmac } from "node:crypto";
import { redactDetected } from "@portcullis/policy";
import { describe, expect, it } from "vitest";
import { maskDataRow, type TResultPlan, type TSessionMasking } from "./result-masking.ts";
import { ProtocolError } from "./wire.ts";

const key = Buffer.alloc(32, 3);
const masking: TSessionMasking = {
  compiled: { columnRules: [], detectorRules: [] },
  key,
  catalog: undefined,
  redact: (text, options) =>
    redactDetected(text, { detectors: options?.detectors as never, columnHint: options?.columnHint }),
};

/** A DataRow message: each cell a Buffer (its bytes) or null (SQL NULL). */
function dataRow(cells: (Buffer | string | null)[]): Buffer {
  const parts = cells.map((cell) => {
    const length = Buffer.alloc(4);
    if (cell === null) {
      length.writeInt32BE(-1);
      return length;
    }
    const bytes = typeof cell === "string" ? Buffer.from(cell) : cell;
    length.writeInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  });
  const count = Buffer.alloc(2);
  count.writeInt16BE(cells.length);
  const body = Buffer.concat([count, ...parts]);
  const head = Buffer.alloc(5);
  head[0] = 0x44;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** The cells of a DataRow, checking its framing on the way. */
function cellsOf(row: Buffer): (Buffer | null)[] {
  expect(row[0]).toBe(0x44);
  expect(row.readInt32BE(1)).toBe(row.length - 1);
  const count = row.readInt16BE(5);
  const cells: (Buffer | null)[] = [];
  let offset = 7;
  for (let i = 0; i < count; i++) {
    const length = row.readInt32BE(offset);
    offset += 4;
    cells.push(length < 0 ? null : row.subarray(offset, offset + length));
    offset += Math.max(length, 0);
  }
  expect(offset).toBe(row.length);
  return cells;
}

const field = (
  index: number,
  action: TResultPlan["fields"][number]["action"],
  typeOid = 25,
  binary = false,
) => ({
  index,
  action,
  detectors: ["email", "us_ssn"],
  typeOid,
  binary,
  label: `c${index}`,
  columnHint: `c${index}`,
});

const mask = (row: Buffer, plan: TResultPlan, found = new Set<string>()) =>
  cellsOf(maskDataRow({ type: 0x44, raw: row, bodyStart: 5 }, plan, masking, found));

describe("maskDataRow", () => {
  it("rewrites planned cells and copies the others byte for byte", () => {
    const int4 = Buffer.from([0, 0, 0, 42]);
    const row = dataRow([int4, "Zoë Ådler 𠀀", null, "078-05-1120", "keep me"]);
    const plan: TResultPlan = {
      columnCount: 5,
      maskedLabels: [],
      fields: [field(1, "hash"), field(2, "partial"), field(3, "partial")],
    };
    const [a, b, c, d, e] = mask(row, plan);
    expect(a).toEqual(int4);
    const expected = createHmac("sha256", key).update("Zoë Ådler 𠀀").digest("hex").slice(0, 16);
    expect(b!.toString()).toBe(`hash:${expected}`);
    expect(c).toBeNull(); // NULL stays NULL
    expect(d!.toString()).toBe("***-**-1120");
    expect(e!.toString()).toBe("keep me");
  });

  it("turns values into SQL NULL for the null strategy and for masked non-text types", () => {
    const row = dataRow(["secret", Buffer.from([0, 0, 0, 7]), "x"]);
    const plan: TResultPlan = {
      columnCount: 3,
      maskedLabels: [],
      fields: [field(0, "null"), field(1, "redact", 23, true)],
    };
    expect(mask(row, plan).map((c) => c?.toString() ?? null)).toEqual([null, null, "x"]);
  });

  it("keeps binary jsonb's version byte and writes valid JSON", () => {
    const jsonb = Buffer.concat([Buffer.from([1]), Buffer.from('"ada@example.com"')]);
    const [cell] = mask(dataRow([jsonb]), {
      columnCount: 1,
      maskedLabels: [],
      fields: [field(0, "redact", 3802, true)],
    });
    expect(cell![0]).toBe(1);
    expect(JSON.parse(cell!.subarray(1).toString())).toBe("********");
  });

  it("leaves a scanned cell with nothing detected untouched and masks one with a finding", () => {
    const found = new Set<string>();
    const [clean, dirty] = mask(
      dataRow(["nothing here", "mail ada.lovelace@example.com now"]),
      { columnCount: 2, maskedLabels: [], fields: [field(0, "scan"), field(1, "scan")] },
      found,
    );
    expect(clean!.toString()).toBe("nothing here");
    expect(dirty!.toString()).toBe("mail ***@***.com now");
    expect([...found]).toEqual(["c1 (email)"]);
  });

  it("does not trust a row whose column count differs from the plan: every cell becomes NULL", () => {
    const cells = mask(dataRow(["a", "b"]), {
      columnCount: 3,
      maskedLabels: [],
      fields: [field(1, "partial"), field(2, "partial")],
    });
    expect(cells.map((c) => c?.toString() ?? null)).toEqual([null, null]);
  });

  it("rejects a row whose cells run past its end", () => {
    const row = dataRow(["abcdef"]);
    const truncated = Buffer.from(row.subarray(0, row.length - 2));
    truncated.writeInt32BE(truncated.length - 1, 1);
    expect(() =>
      maskDataRow(
        { type: 0x44, raw: truncated, bodyStart: 5 },
        { columnCount: 1, maskedLabels: [], fields: [field(0, "hash")] },
        masking,
        new Set(),
      ),
    ).toThrow(ProtocolError);
  });
});
