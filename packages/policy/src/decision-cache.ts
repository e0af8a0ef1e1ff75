// Repeated statements (ORMs, pgbench, dashboards) skip the parser. Two caches:
// - by exact text, for any statement;
// - by shape (the text with its string and number literals blanked), for plain reads whose analysis cannot
//   depend on the literals' values. Clients that inline constants (pgbench in simple mode, many BI tools)
//   send a new text every time; their reads still skip the parser.
// Guardrail and masking decisions depend on who asks: the agent's governor memoizes them per session.
import { analyzeSql, type TAnalysis, type TStatementAnalysis } from "./analyze.ts";

/**
 * A read's shape entry is used only once a second text of the same shape produced the same analysis
 * (text aside): a shape whose analysis does depend on its literals is then never cached.
 */
type TShapeEntry = { statement: TStatementAnalysis; confirmed: boolean } | "uncacheable";

export class AnalysisCache {
  private readonly entries = new Map<string, TAnalysis>();
  private readonly shapes = new Map<string, TShapeEntry>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxEntries = 10_000,
    private readonly maxTextLength = 16_384,
  ) {}

  analyze(sql: string): TAnalysis {
    const cached = this.entries.get(sql);
    if (cached) {
      this.hits += 1;
      touch(this.entries, sql, cached);
      return cached;
    }
    const shape = sql.length <= this.maxTextLength ? statementShape(sql) : null;
    const entry = shape === null ? undefined : this.shapes.get(shape);
    if (entry !== undefined && entry !== "uncacheable" && entry.confirmed) {
      this.hits += 1;
      touch(this.shapes, shape!, entry);
      return { ok: true, statements: [{ ...entry.statement, text: statementText(sql) }] };
    }
    this.misses += 1;
    const analysis = analyzeSql(sql);
    if (shape !== null && entry !== "uncacheable") {
      const statement = shapeCacheable(analysis);
      if (entry === undefined) {
        if (statement) remember(this.shapes, shape, { statement, confirmed: false }, this.maxEntries);
      } else if (statement && sameAnalysis(statement, entry.statement)) entry.confirmed = true;
      else this.shapes.set(shape, "uncacheable");
      // A read with inlined literals is unlikely to come back with the same text: keep the exact cache for others.
      if (statement) return analysis;
    }
    if (sql.length <= this.maxTextLength) remember(this.entries, sql, analysis, this.maxEntries);
    return analysis;
  }

  get size(): number {
    return this.entries.size + this.shapes.size;
  }
}

/** Map keeps insertion order: re-inserting moves an entry to the back, so the front is least recently used. */
function touch<T>(map: Map<string, T>, key: string, value: T): void {
  map.delete(key);
  map.set(key, value);
}

function remember<T>(map: Map<string, T>, key: string, value: T, max: number): void {
  if (map.size >= max) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  map.set(key, value);
}

/** The one statement of a plain read, when nothing in its analysis can come from a literal's value. */
function shapeCacheable(analysis: TAnalysis): TStatementAnalysis | null {
  if (!analysis.ok || analysis.statements.length !== 1) return null;
  const s = analysis.statements[0]!;
  if (s.class !== "read" || s.command !== "SelectStmt" || s.runsCode || s.copyTo) return null;
  // set_config()'s first argument is a constant the analysis reads (see changesQuoting).
  if (s.changesQuoting || s.functions.some((f) => f.toLowerCase().endsWith("set_config"))) return null;
  return s;
}

function sameAnalysis(a: TStatementAnalysis, b: TStatementAnalysis): boolean {
  return JSON.stringify({ ...a, text: "" }) === JSON.stringify({ ...b, text: "" });
}

/** What analyzeSql reports as the text of a single statement (statementShape() admits no inner `;`). */
function statementText(sql: string): string {
  return sql.replace(/[\s;]+$/, "").trim();
}

const isIdentChar = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/**
 * The text with each string and number literal replaced by `?`, or null when the text uses anything this
 * deliberately small lexer does not read exactly as PostgreSQL does (with standard_conforming_strings on):
 * non-ASCII, backslashes, dollar quoting and parameters, quoted identifiers, comments, prefixed strings
 * (E'', U&'', B'', X''), several statements. Such texts simply miss the shape cache.
 */
export function statementShape(sql: string): string | null {
  let out = "";
  let copied = 0;
  const n = sql.length;
  for (let i = 0; i < n; i++) {
    const c = sql.charCodeAt(i);
    if (c > 0x7e || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d)) return null;
    switch (c) {
      case 0x5c /* \ */:
      case 0x24 /* $ */:
      case 0x22 /* " */:
        return null;
      case 0x2d /* - */:
        if (sql.charCodeAt(i + 1) === 0x2d) return null;
        break;
      case 0x2f /* / */:
        if (sql.charCodeAt(i + 1) === 0x2a) return null;
        break;
      case 0x3b /* ; */:
        // Only trailing semicolons: anything after one is another statement.
        if (!/^[\s;]*$/.test(sql.slice(i))) return null;
        break;
      case 0x27 /* ' */: {
        const before = i > 0 ? sql.charCodeAt(i - 1) : 0x20;
        if (isIdentChar(before) || before === 0x26 /* & */) return null;
        let j = i + 1;
        for (;;) {
          if (j >= n) return null;
          const d = sql.charCodeAt(j);
          if (d > 0x7e || d === 0x5c) return null;
          if (d === 0x27) {
            if (sql.charCodeAt(j + 1) === 0x27) j += 2;
            else break;
          } else j += 1;
        }
        out += `${sql.slice(copied, i)}?`;
        copied = j + 1;
        i = j;
        break;
      }
      default:
        if (isDigit(c) && !(i > 0 && isIdentChar(sql.charCodeAt(i - 1)))) {
          let j = i;
          while (j < n && isDigit(sql.charCodeAt(j))) j++;
          if (sql.charCodeAt(j) === 0x2e /* . */) {
            j++;
            while (j < n && isDigit(sql.charCodeAt(j))) j++;
            if (sql.charCodeAt(j) === 0x2e) return null;
          }
          if (sql.charCodeAt(j) === 0x65 || sql.charCodeAt(j) === 0x45) {
            let k = j + 1;
            if (sql.charCodeAt(k) === 0x2b || sql.charCodeAt(k) === 0x2d) k++;
            if (isDigit(sql.charCodeAt(k))) {
              while (k < n && isDigit(sql.charCodeAt(k))) k++;
              j = k;
            }
          }
          // 0x1F, 1_000, 12abc: forms this lexer does not read.
          if (j < n && isIdentChar(sql.charCodeAt(j))) return null;
          out += `${sql.slice(copied, i)}?`;
          copied = j;
          i = j - 1;
        }
    }
  }
  return out + sql.slice(copied);
}
