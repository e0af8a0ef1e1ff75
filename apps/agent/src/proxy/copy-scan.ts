// COPY ... TO sends rows as CopyData, not DataRows: with content-detector rules the agent reads each text or
// CSV row field by field, runs the detectors over each value as over a result cell, and writes the row again
// in the same format when a value changed. (Binary rows, other encodings and server-side files are refused by
// the policy: the detectors could not read them.)
import type { TCopyOut } from "@portcullis/policy";

/** Runs the detectors over one field's value (of `count` in the row); returns the new value, or null if none. */
export type TFieldScanner = (value: string, index: number, count: number) => string | null;

/** The row could not be read as the format says: the agent cannot vouch for it. */
export class CopyRowError extends Error {}

const TEXT_ESCAPES: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };
const TEXT_ESCAPED: Record<string, string> = {
  "\b": "b",
  "\f": "f",
  "\n": "n",
  "\r": "r",
  "\t": "t",
  "\v": "v",
};

interface TField {
  /** As written in the row. */
  raw: string;
  /** The value (unescaped), or null for SQL NULL. */
  value: string | null;
}

/**
 * Postgres sends one CopyData per row of a COPY ... TO (the CSV header is a row too). Returns the row rewritten,
 * or null when no value changed.
 */
export function scanCopyRow(row: Buffer, format: TCopyOut, scan: TFieldScanner): Buffer | null {
  const line = row.toString("utf8");
  const ending = line.endsWith("\r\n") ? "\r\n" : line.endsWith("\n") ? "\n" : "";
  const body = line.slice(0, line.length - ending.length);
  const fields = format.format === "csv" ? splitCsv(body, format) : splitText(body, format);
  let changed = false;
  const written = fields.map((field, index) => {
    const next = field.value === null ? null : scan(field.value, index, fields.length);
    if (next === null || next === field.value) return field.raw;
    changed = true;
    return format.format === "csv" ? quoteCsv(next, format) : escapeText(next, format);
  });
  return changed ? Buffer.from(written.join(format.delimiter) + ending, "utf8") : null;
}

// ---- text format ------------------------------------------------------------------------------------------

function splitText(body: string, format: TCopyOut): TField[] {
  const fields: TField[] = [];
  let start = 0;
  let value = "";
  for (let i = 0; i <= body.length; i++) {
    const c = body[i];
    if (i === body.length || c === format.delimiter) {
      const raw = body.slice(start, i);
      fields.push({ raw, value: raw === format.nullString ? null : value });
      start = i + 1;
      value = "";
      continue;
    }
    if (c !== "\\") {
      value += c;
      continue;
    }
    const next = body[i + 1];
    if (next === undefined) throw new CopyRowError("a COPY row ends in a backslash");
    i += 1;
    if (next in TEXT_ESCAPES) value += TEXT_ESCAPES[next];
    else if (next >= "0" && next <= "7") {
      let digits = next;
      while (digits.length < 3 && body[i + 1] !== undefined && body[i + 1]! >= "0" && body[i + 1]! <= "7")
        digits += body[++i];
      value += String.fromCharCode(parseInt(digits, 8));
    } else if (next === "x" && /[0-9a-fA-F]/.test(body[i + 1] ?? "")) {
      let digits = body[++i]!;
      if (/[0-9a-fA-F]/.test(body[i + 1] ?? "")) digits += body[++i];
      value += String.fromCharCode(parseInt(digits, 16));
    } else value += next;
  }
  return fields;
}

function escapeText(value: string, format: TCopyOut): string {
  let out = "";
  for (const c of value) {
    if (c === "\\" || c === format.delimiter) out += `\\${c in TEXT_ESCAPED ? TEXT_ESCAPED[c] : c}`;
    else if (c in TEXT_ESCAPED) out += `\\${TEXT_ESCAPED[c]}`;
    else out += c;
  }
  // A value that reads as the NULL marker once written would come back NULL: escape its first character.
  return out === format.nullString ? `\\${out}` : out;
}

// ---- CSV ----------------------------------------------------------------------------------------------------

function splitCsv(body: string, format: TCopyOut): TField[] {
  const fields: TField[] = [];
  let i = 0;
  for (;;) {
    const start = i;
    let value = "";
    let quoted = false;
    while (i < body.length && body[i] !== format.delimiter) {
      if (body[i] !== format.quote) {
        value += body[i++];
        continue;
      }
      quoted = true;
      i += 1;
      for (;;) {
        if (i >= body.length) throw new CopyRowError("a COPY CSV row ends inside a quoted value");
        const c = body[i]!;
        if (c === format.escape && body[i + 1] === format.quote) {
          value += format.quote;
          i += 2;
        } else if (c === format.escape && format.escape !== format.quote && body[i + 1] === format.escape) {
          value += format.escape;
          i += 2;
        } else if (c === format.quote) {
          i += 1;
          break;
        } else {
          value += c;
          i += 1;
        }
      }
    }
    const raw = body.slice(start, i);
    // Only an unquoted field equal to the NULL string is NULL.
    fields.push({ raw, value: !quoted && raw === format.nullString ? null : value });
    if (i >= body.length) break;
    i += 1; // the delimiter
  }
  return fields;
}

/** Quoted as Postgres would: when it holds the delimiter, a quote or a line break, or reads as NULL or `\.`. */
function quoteCsv(value: string, format: TCopyOut): string {
  const needsQuotes =
    value === format.nullString ||
    value === "\\." ||
    [...value].some((c) => c === format.delimiter || c === format.quote || c === "\n" || c === "\r");
  if (!needsQuotes) return value;
  let out = format.quote;
  for (const c of value) {
    if (c === format.quote || c === format.escape) out += format.escape;
    out += c;
  }
  return out + format.quote;
}
