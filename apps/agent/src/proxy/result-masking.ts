// Rewriting results in flight: RowDescription decides, per column, whether and how to mask; DataRows are then
// rebuilt cell by cell (text and binary formats), keeping the row count, the column count and the types the
// client was told about. Errors and notices are rewritten too, since Postgres quotes values in them.
import {
  columnRuleFor,
  maskText,
  pathRule,
  viewMasking,
  type TCompiledMasking,
  type TMaskingStrategy,
  type TStatementMasking,
} from "@portcullis/policy";
import type { TCatalog } from "./catalog.ts";
import { BodyReader, type TFrame } from "./wire.ts";

export interface TFieldDescription {
  name: string;
  tableOid: number;
  attnum: number;
  typeOid: number;
  format: number;
}

/**
 * Finds sensitive values in free text (content detectors) and masks them in place; `detectors` limits which
 * run (all when absent), `columnHint` names the column, which disambiguates bare numbers.
 */
export type TTextRedactor = (
  text: string,
  options?: { detectors?: string[]; columnHint?: string },
) => { text: string; detectors: string[] };

export interface TSessionMasking {
  compiled: TCompiledMasking;
  key: Buffer;
  catalog: TCatalog | undefined;
  redact: TTextRedactor;
}

interface TFieldPlan {
  index: number;
  /** A strategy to apply, or "scan" to run the content detectors over the value. */
  action: TMaskingStrategy | "scan";
  /** The detectors a scan runs (the session's detector rules). */
  detectors: string[];
  typeOid: number;
  binary: boolean;
  label: string;
  columnHint: string;
}

export interface TResultPlan {
  fields: TFieldPlan[];
  columnCount: number;
  /** Columns masked by rule or derivation, for the audit event. */
  maskedLabels: string[];
}

// Types whose values are text on the wire in both formats (binary text is its UTF-8 bytes).
const TEXT_TYPES = new Set([25, 1043, 1042, 19, 18, 705, 114, 3802, 142]);
const JSON_TYPES = new Set([114, 3802]);

/** Whether the content detectors read values of this type (in results, and in COPY rows where it is known). */
export const isScannedType = (typeOid: number): boolean => TEXT_TYPES.has(typeOid);

export function parseRowDescription(frame: TFrame): TFieldDescription[] {
  const r = new BodyReader(frame.raw, frame.bodyStart);
  const count = r.int16();
  const fields: TFieldDescription[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.cstring();
    const tableOid = r.int32() >>> 0;
    const attnum = r.int16();
    const typeOid = r.int32() >>> 0;
    r.int16(); // typlen
    r.int32(); // typmod
    fields.push({ name, tableOid, attnum, typeOid, format: r.int16() });
  }
  return fields;
}

/** Applies Bind's result-format codes to fields described by Describe(statement), which reports format 0. */
export function withFormats(fields: TFieldDescription[], formats: number[]): TFieldDescription[] {
  const formatOf = (i: number) => (formats.length === 1 ? formats[0]! : (formats[i] ?? 0));
  // The same array when nothing changes (text results), so a plan made for it can be reused.
  if (fields.every((f, i) => f.format === formatOf(i))) return fields;
  return fields.map((f, i) => ({ ...f, format: formatOf(i) }));
}

/** Decides per column. Returns null when no cell of this result needs work (the fast path). */
export function planResult(
  fields: TFieldDescription[],
  statement: TStatementMasking,
  masking: TSessionMasking,
): TResultPlan | null {
  const scan = masking.compiled.detectorRules.length > 0;
  if (!statement.tainted && masking.compiled.columnRules.length === 0 && !scan) return null;
  const plans: TFieldPlan[] = [];
  const maskedLabels: string[] = [];
  const detectors = masking.compiled.detectorRules.map((r) => r.detector);
  fields.forEach((field, index) => {
    const binary = field.format === 1;
    const origin = field.tableOid !== 0 ? masking.catalog?.origin(field.tableOid, field.attnum) : undefined;
    let action: TFieldPlan["action"] | null = null;
    let label = field.name;
    if (origin) {
      const rule = columnRuleFor(masking.compiled, origin.table, origin.column);
      const sources = rule ? undefined : masking.catalog?.viewSources(origin.table);
      const shown = `${origin.table.replace(/^public\./, "")}.${origin.column}`;
      if (rule) {
        action = rule.strategy;
        label = shown;
      } else if (sources) {
        // A view's column: masked as the columns it carries unchanged are (the outermost with a rule), or, when
        // computed (or not known), as the view's masked sources are.
        const path = masking.catalog?.viewColumnPath(field.tableOid, field.attnum);
        if (path) {
          const hit = pathRule(masking.compiled, path);
          if (hit) {
            action = hit.strategy;
            label = `${shown} (${hit.table.replace(/^public\./, "")}.${hit.column})`;
          }
        } else {
          const view = viewMasking(masking.compiled, sources);
          if (view) {
            action = view.strategy;
            label = `${shown} (view)`;
          }
        }
      }
    } else if (field.tableOid !== 0 && masking.catalog?.inDoubt) {
      // A column of a relation the catalog does not know, while DDL may have made or changed it.
      action = "redact";
      label = `${field.name} (unknown relation)`;
    } else if (statement.tainted) {
      // Computed (or of unknown origin) in a statement that touches masked data: mask rather than leak.
      action = field.tableOid === 0 ? statement.computedStrategy : "redact";
      label = `${field.name} (derived)`;
    }
    if (action) maskedLabels.push(label);
    else if (scan && TEXT_TYPES.has(field.typeOid)) action = "scan";
    if (action)
      plans.push({
        index,
        action,
        detectors,
        typeOid: field.typeOid,
        binary,
        label,
        columnHint: origin?.column ?? field.name,
      });
  });
  return plans.length > 0 ? { fields: plans, columnCount: fields.length, maskedLabels } : null;
}

/** What a masked cell becomes: its new text (UTF-8 on the wire), SQL NULL, or the same bytes. */
const UNCHANGED = Symbol("unchanged");
type TMaskedCell = string | null | typeof UNCHANGED;

/** Binary jsonb starts with a version byte before its text. */
const jsonbVersionByte = (plan: TFieldPlan) => (plan.binary && plan.typeOid === 3802 ? 1 : 0);

function maskCell(
  row: Buffer,
  from: number,
  to: number,
  plan: TFieldPlan,
  masking: TSessionMasking,
  found: Set<string>,
): TMaskedCell {
  if (!TEXT_TYPES.has(plan.typeOid)) {
    // A masked number, date or array cannot be rewritten into a valid value of its type: SQL NULL keeps the type.
    return plan.action === "scan" ? UNCHANGED : null;
  }
  const value = row.toString("utf8", Math.min(from + jsonbVersionByte(plan), to), to);
  if (plan.action === "scan") {
    // Detector masks contain no quotes or backslashes, so redacting inside JSON text keeps it valid JSON.
    const { text, detectors } = masking.redact(value, {
      detectors: plan.detectors,
      columnHint: plan.columnHint,
    });
    if (detectors.length === 0) return UNCHANGED;
    for (const d of detectors) found.add(`${plan.label} (${d})`);
    return text;
  }
  const masked = maskText(plan.action, value, masking.key);
  if (masked === null) return null;
  return JSON_TYPES.has(plan.typeOid) ? JSON.stringify(masked) : masked;
}

/** Where each cell of the DataRow being masked starts (its length word); reused, rows are masked one at a time. */
let cellStarts = new Int32Array(64);

/**
 * Rebuilds one DataRow with masked cells. `found` collects content-detector hits for the audit event.
 * A row whose column count disagrees with the plan is not trusted: every cell becomes NULL.
 * Runs once per row of a masked result: cells that need nothing are copied as ranges of the original.
 */
export function maskDataRow(
  frame: TFrame,
  plan: TResultPlan,
  masking: TSessionMasking,
  found: Set<string>,
): Buffer {
  const raw = frame.raw;
  const r = new BodyReader(raw, frame.bodyStart);
  const count = r.int16();
  if (cellStarts.length <= count) cellStarts = new Int32Array(Math.max(count + 1, 2 * cellStarts.length));
  for (let i = 0; i < count; i++) {
    cellStarts[i] = r.offset;
    const len = r.int32();
    if (len > 0) r.skip(len);
  }
  const end = r.offset;
  // A row shaped unlike its description (a FETCH whose cursor was declared again since): no cell is known.
  if (count !== plan.columnCount) return nullDataRow(frame);
  // The planned cells that change (in column order), and the length of each one's new value.
  const replaced: { start: number; end: number; value: string | null; prefix: number; bytes: number }[] = [];
  let size = end; // the row as it is: raw starts at its type byte
  for (const field of plan.fields) {
    if (field.index >= count) continue;
    const start = cellStarts[field.index]!;
    const len = raw.readInt32BE(start);
    if (len < 0) continue;
    const value = maskCell(raw, start + 4, start + 4 + len, field, masking, found);
    if (value === UNCHANGED) continue;
    const prefix = value === null ? 0 : jsonbVersionByte(field);
    const bytes = value === null ? 0 : Buffer.byteLength(value, "utf8");
    replaced.push({ start, end: start + 4 + len, value, prefix, bytes });
    size += prefix + bytes - len;
  }
  const out = Buffer.allocUnsafe(size);
  let from = 0;
  let offset = 0;
  for (const cell of replaced) {
    offset += raw.copy(out, offset, from, cell.start);
    if (cell.value === null) {
      out.writeInt32BE(-1, offset);
      offset += 4;
    } else {
      out.writeInt32BE(cell.prefix + cell.bytes, offset);
      if (cell.prefix) out[offset + 4] = 1;
      offset += 4 + cell.prefix + out.write(cell.value, offset + 4 + cell.prefix, "utf8");
    }
    from = cell.end;
  }
  raw.copy(out, offset, from, end);
  out.writeInt32BE(size - 1, 1);
  return out;
}

/** Masks a DataRow whose columns are unknown (no RowDescription reached us): every cell becomes NULL. */
export function nullDataRow(frame: TFrame): Buffer {
  const count = new BodyReader(frame.raw, frame.bodyStart).int16();
  const out = Buffer.allocUnsafe(7 + 4 * count);
  out[0] = 0x44;
  out.writeInt32BE(6 + 4 * count, 1);
  out.writeInt16BE(count, 5);
  for (let i = 0; i < count; i++) out.writeInt32BE(-1, 7 + 4 * i);
  return out;
}

// Error/notice fields that carry text a value can end up in: message, detail, hint, context, internal query.
const TEXT_FIELDS = new Set(["M", "D", "H", "W", "q", "P"]);

/**
 * Rewrites a NotificationResponse whose payload a content detector recognises. Another session chose the
 * payload (a trigger may send whole rows as JSON): like a text column nobody tagged, only the detectors can
 * tell what it carries.
 */
export function maskNotificationFrame(frame: TFrame, masking: TSessionMasking): Buffer | null {
  if (masking.compiled.detectorRules.length === 0) return null;
  const r = new BodyReader(frame.raw, frame.bodyStart);
  const pid = r.int32();
  const channel = r.cstring();
  const payload = r.cstring();
  const masked = masking.redact(payload).text;
  if (masked === payload) return null;
  const body = Buffer.from(`${channel}\0${masked}\0`, "utf8");
  const out = Buffer.allocUnsafe(9 + body.length);
  out[0] = frame.type;
  out.writeInt32BE(8 + body.length, 1);
  out.writeInt32BE(pid, 5);
  body.copy(out, 9);
  return out;
}

/**
 * SQLSTATE classes whose messages have fixed texts: connection, transaction state, resources, operator
 * intervention (cancel, timeouts, shutdown), and serialization failures.
 */
const FIXED_TEXT_CLASSES = new Set(["08", "25", "53", "57"]);
const FIXED_TEXT_CODES = new Set(["40001"]);
/**
 * Classes of errors the parser and analyser raise about the statement's own text (syntax, unknown names, access
 * rules, feature support), which carry a position in it. The same classes raised at run time echo their input
 * (`'x' || ssn)::regclass` says which relation does not exist), so without a position they count as data.
 */
const STATEMENT_TEXT_CLASSES = new Set(["0A", "26", "2B", "34", "3D", "3F", "42"]);

/** What replaces the text of a message that could carry masked values. */
const WITHHELD =
  "Portcullis withheld this message: the statement reads masked data, which its text could contain";

/**
 * Rewrites an ErrorResponse or NoticeResponse. Always: content detectors over its text fields, and the row
 * and key values Postgres puts in details (a constraint violation by an UPDATE shows the row's other,
 * masked, columns). For statements that touch masked data, also every quoted value ("...": a failed cast
 * of a masked column quotes it); elsewhere quotes stay, since they mostly name relations and columns. And
 * where column rules apply, the text of a message that could carry values unquoted is withheld (its SQLSTATE
 * stays): from a statement that touches masked data, unless its text is fixed or is about the statement's own
 * text (positioned, in a parser's class); from one that runs code
 * the agent cannot follow (a DO block, a user function), whatever its class, since RAISE chooses the class.
 * `statement` undefined: not known, judged as touching masked data.
 */
export function maskNoticeFrame(
  frame: TFrame,
  masking: TSessionMasking,
  statement: Pick<TStatementMasking, "tainted" | "runsUnknownCode"> | undefined,
): Buffer | null {
  const tainted = statement?.tainted ?? true;
  const fields: [number, string][] = [];
  const r = new BodyReader(frame.raw, frame.bodyStart);
  while (r.remaining > 0) {
    const code = r.byte();
    if (code === 0) break;
    fields.push([code, r.cstring()]);
  }
  const sqlstate = fields.find(([code]) => code === 0x43 /* C */)?.[1] ?? "";
  const positioned = fields.some(([code]) => code === 0x50 /* P */);
  const errorClass = sqlstate.slice(0, 2);
  const valueFree =
    FIXED_TEXT_CLASSES.has(errorClass) ||
    FIXED_TEXT_CODES.has(sqlstate) ||
    (positioned && STATEMENT_TEXT_CLASSES.has(errorClass));
  const withhold =
    masking.compiled.columnRules.length > 0 &&
    (statement?.runsUnknownCode === true || (tainted && !valueFree));
  const parts: Buffer[] = [];
  let changed = false;
  for (const [code, original] of fields) {
    const field = String.fromCharCode(code);
    let value = original;
    if (withhold && TEXT_FIELDS.has(field)) {
      // The message says why; the detail, hint, context and internal query go (positions are numbers).
      if (field === "P") value = original;
      else if (field === "M") value = WITHHELD;
      else {
        changed = true;
        continue;
      }
    } else if (TEXT_FIELDS.has(field)) {
      value = masking
        .redact(value)
        .text.replace(/=\((.*?)\)( already exists| is not present| conflicts)/g, "=(***)$2")
        .replace(/(Failing row contains|contains) \(.*\)/g, "$1 (***)");
      if (tainted) value = value.replace(/"[^"]*"/g, '"***"');
    }
    if (value !== original) changed = true;
    parts.push(Buffer.from([code]), Buffer.from(`${value}\0`, "utf8"));
  }
  if (!changed) return null;
  const body = Buffer.concat([...parts, Buffer.from([0])]);
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = frame.type;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}
