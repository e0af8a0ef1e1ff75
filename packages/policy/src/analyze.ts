// Statement analysis with the real PostgreSQL parser (libpg-query, WASM). Raw-text matching is what makes
// other gateways' guardrails easy to bypass (case, comments, quoting); the parse tree does not care.
import { createHash } from "node:crypto";
import { loadModule, parseSync, scanSync } from "libpg-query";

export type TStatementClass = "read" | "write" | "ddl" | "privilege" | "admin" | "transaction" | "unknown";

export interface TStatementAnalysis {
  /** The statement's own text, cut from a multi-statement string. */
  text: string;
  /** Parse-tree node type of the top-level statement, e.g. SelectStmt, DropStmt. */
  command: string;
  class: TStatementClass;
  tablesRead: string[];
  tablesWritten: string[];
  /** Every node type found anywhere in the tree (for rules on nested writes, functions, ...). */
  nestedCommands: string[];
  functions: string[];
  /** Operators used (`#%#`, `public.#%#` for OPERATOR(public.#%#)): a user-defined one runs its function. */
  operators?: string[];
  /** Names of the types the statement names (casts, column definitions), without schema: a cast the database
   * defines to or from one runs its function. */
  types?: string[];
  /**
   * Schema changes that would move a relation's data out of its column rules' reach, which match by name:
   * renaming or moving a relation (column null) or a column, or deriving, retyping or detaching one's data
   * (column null: any of the relation's columns may feed it).
   */
  reshapes?: { relation: string; column: string | null }[];
  /** UPDATE/DELETE without WHERE, or with a WHERE that is a constant true. */
  unboundedWrite: boolean;
  /** DROP / TRUNCATE and friends: effects that cannot be undone by another statement. */
  destructive: boolean;
  fingerprint: string;
  /** Column references as written (folded names): the qualifier is a table, alias or CTE name, or null. */
  columnRefs: { qualifier: string | null; column: string }[];
  /** `*` (qualifier null) and `t.*` references. */
  starRefs: (string | null)[];
  /** Relation aliases and CTE / subquery names → the table they stand for (null when not a base table). */
  aliases: Record<string, string | null>;
  /** COPY ... TO (data leaves in CopyData, not in DataRows). */
  copyTo: boolean;
  /** For COPY ... TO: how its rows are written, so the agent can read them (content detectors). */
  copyOut?: TCopyOut;
  /** Runs code defined elsewhere or installs code that runs later (DO, functions, triggers, rules, CALL,
   * COPY ... PROGRAM, LOAD): its effects are not visible in this statement. */
  runsCode: boolean;
  /** Sets client_encoding to one the analysis could misread (isUnsafeClientEncoding), by SET or set_config(). */
  changesEncoding?: boolean;
  /** Turns standard_conforming_strings off (SET, set_config(), UPDATE pg_settings): the server would then
   * read backslashes in later string literals differently from this parser, so analysis of the rest of the
   * session could not be trusted. */
  changesQuoting: boolean;
  /** PREPARE, EXECUTE or DEALLOCATE and the prepared statement it names (null: all of them, as DEALLOCATE ALL
   * and DISCARD ALL drop every one). The agent follows a session's prepared statements with it. */
  preparedStatement: { op: "prepare" | "execute" | "deallocate"; name: string | null } | null;
  /** Prepared statements the statement runs (EXECUTE, alone or inside EXPLAIN ANALYZE or CREATE TABLE AS). */
  executes?: string[];
  /** DECLARE, FETCH (or MOVE) or CLOSE and the cursor it names (null: all of them, as CLOSE ALL and DISCARD ALL
   * close every one). The agent masks a FETCH like the query its cursor was declared for. */
  cursor?: { op: "declare" | "fetch" | "close"; name: string | null };
  /** Transaction control, by what it does: a commit runs deferred triggers (and fills WITH HOLD cursors). */
  transaction?: "begin" | "commit" | "rollback" | "savepoint";
  /** What feeds the values a statement stores (INSERT's rows, UPDATE's SET, MERGE's source and actions,
   * CREATE TABLE AS and SELECT INTO's query): masked data must not be copied where masking no longer applies. */
  stored: TStoredSources | null;
  /**
   * Names of WITH queries the statement also reads as relations. SQL scopes a WITH name, so in another part
   * of the statement the same name may be the table or view of that name.
   */
  cteShadowed?: string[];
  /**
   * Aliases bound only to subqueries and WITH queries, and the names of their output columns (`s.total` is
   * then a column of s, not `total(s)` in function-style notation).
   */
  derivedColumns?: Record<string, string[]>;
}

/** The output options of a COPY ... TO, as Postgres applies them (defaults filled in). */
export interface TCopyOut {
  format: "text" | "csv" | "binary";
  delimiter: string;
  quote: string;
  escape: string;
  /** What a NULL is written as. */
  nullString: string;
  header: boolean;
  /** The ENCODING option, when given (the data is then in that encoding, not the client's). */
  encoding: string | null;
  /** Where the rows go: the client (STDOUT), or a file or program on the server. */
  toClient: boolean;
  /** `COPY table TO`: the relation, whose columns are written when no list is given. */
  relation: string | null;
  /** The columns written, by name, when the statement says (a column list or a query without `*`). */
  columns: string[] | null;
}

export interface TStoredSources {
  columnRefs: { qualifier: string | null; column: string }[];
  starRefs: (string | null)[];
  functions: string[];
  tables: string[];
}

export type TAnalysis = { ok: true; statements: TStatementAnalysis[] } | { ok: false; error: string };

let ready: Promise<void> | null = null;
/** Loads the parser's WASM once; call (and await) before the first analysis. */
export function initParser(): Promise<void> {
  ready ??= loadModule();
  return ready;
}

const WRITE_NODES = new Set(["InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"]);
const DESTRUCTIVE_NODES = new Set([
  "DropStmt",
  "TruncateStmt",
  "DropdbStmt",
  "DropTableSpaceStmt",
  "DropRoleStmt",
  "DropOwnedStmt",
]);
const PRIVILEGE_NODES = new Set([
  "GrantStmt",
  "GrantRoleStmt",
  "CreateRoleStmt",
  "AlterRoleStmt",
  "AlterRoleSetStmt",
  "DropRoleStmt",
  "AlterDefaultPrivilegesStmt",
  "ReassignOwnedStmt",
  "DropOwnedStmt",
  "CreatePolicyStmt",
  "AlterPolicyStmt",
  "AlterSystemStmt",
]);

// Statements that run code defined elsewhere or install code that runs later. (SQL EXECUTE is not one:
// it runs a statement whose PREPARE already went through the guardrails; masking still treats it as opaque.)
const CODE_NODES = new Set([
  "DoStmt",
  "CreateFunctionStmt",
  "CreateTrigStmt",
  "CreateEventTrigStmt",
  "RuleStmt",
  "CallStmt",
  "LoadStmt",
]);

// Functions that change data or server state although they are called from a SELECT.
const WRITE_FUNCTIONS = new Set([
  "setval",
  "lo_import",
  "lo_unlink",
  "lo_put",
  "lo_from_bytea",
  "pg_file_write",
  "dblink_exec",
]);
export const ADMIN_FUNCTIONS = new Set([
  "pg_terminate_backend",
  "pg_cancel_backend",
  "pg_reload_conf",
  "pg_rotate_logfile",
  "pg_promote",
  "pg_switch_wal",
  "pg_create_restore_point",
  "pg_drop_replication_slot",
  "pg_create_logical_replication_slot",
  "pg_create_physical_replication_slot",
  "pg_read_file",
  "pg_read_binary_file",
  "pg_ls_dir",
  "pg_stat_file",
  // Server files and directories: read, written or listed.
  "lo_import",
  "lo_export",
  "pg_ls_logdir",
  "pg_ls_waldir",
  "pg_ls_tmpdir",
  "pg_ls_archive_statusdir",
  "pg_ls_logicalsnapdir",
  "pg_ls_logicalmapdir",
  "pg_ls_replslotdir",
  "pg_file_write",
  "pg_file_rename",
  "pg_file_unlink",
  "pg_file_sync",
  "pg_logdir_ls",
]);

/**
 * Built-ins that run the SQL text given as an argument (at this position): what that text does is analysed as
 * part of the statement, and text that is not a constant counts as code run from elsewhere.
 */
const SQL_TEXT_ARGUMENTS = new Map<string, (argumentCount: number) => number[]>([
  ["query_to_xml", () => [0]],
  ["query_to_xmlschema", () => [0]],
  ["query_to_xml_and_xmlschema", () => [0]],
  ["ts_stat", () => [0]],
  // ts_rewrite(query, 'select target, substitute ...'); the three-argument form takes no SQL.
  ["ts_rewrite", (n) => (n === 2 ? [1] : [])],
  // tablefunc's crosstab(source sql) and crosstab(source sql, category sql).
  ["crosstab", (n) => (n === 1 ? [0] : [0, 1])],
]);

/** Functions that build SQL from their arguments and run it (tablefunc, xml2, dblink): code run from elsewhere. */
const SQL_BUILDING_FUNCTIONS = new Set([
  "connectby",
  "xpath_table",
  "dblink",
  "dblink_exec",
  "dblink_open",
  "dblink_send_query",
]);
const TRANSACTION_NODES = new Set(["TransactionStmt"]);
const READ_NODES = new Set(["SelectStmt"]);
// Utility statements that neither read user data nor change schema.
const ADMIN_NODES = new Set([
  "VariableSetStmt",
  "VariableShowStmt",
  "DiscardStmt",
  "CheckPointStmt",
  "VacuumStmt",
  "ClusterStmt",
  "ReindexStmt",
  "LockStmt",
  "ListenStmt",
  "UnlistenStmt",
  "NotifyStmt",
  "LoadStmt",
  "DeallocateStmt",
  "ClosePortalStmt",
  "FetchStmt",
  "DeclareCursorStmt",
  "CopyStmt",
  "ExplainStmt",
  "DoStmt",
  "CallStmt",
  "ExecuteStmt",
  "PrepareStmt",
]);

function classify(
  command: string,
  nested: Set<string>,
  stmt: TNode,
  functions: Set<string>,
): TStatementClass {
  if (PRIVILEGE_NODES.has(command) || [...nested].some((n) => PRIVILEGE_NODES.has(n))) return "privilege";
  // SET ROLE / SET SESSION AUTHORIZATION change whose privileges the session runs with.
  if (command === "VariableSetStmt") {
    const name = String((stmt.VariableSetStmt as TNode | undefined)?.name ?? "");
    if (name === "role" || name === "session_authorization") return "privilege";
  }
  if (TRANSACTION_NODES.has(command)) return "transaction";
  if (WRITE_NODES.has(command)) return "write";
  // EXPLAIN ANALYZE runs its statement: CREATE TABLE AS, SELECT INTO and CREATE MATERIALIZED VIEW are schema changes.
  if (command === "ExplainStmt") {
    const inner = (stmt.ExplainStmt as TNode | undefined)?.query as TNode | undefined;
    const innerCommand = inner ? Object.keys(inner)[0] : undefined;
    if (inner && innerCommand) {
      const innerClass = classify(innerCommand, nested, inner, functions);
      if (innerClass === "ddl" || innerClass === "write" || innerClass === "privilege") return innerClass;
    }
  }
  // A write hidden inside another statement (WITH x AS (DELETE ...) SELECT, EXPLAIN ANALYZE DELETE,
  // PREPARE p AS UPDATE ...) is a write: classify by the strongest effect, not the outer keyword.
  const bareFunctions = [...functions].map((f) => f.slice(f.lastIndexOf(".") + 1).toLowerCase());
  const hidesWrite =
    [...nested].some((n) => WRITE_NODES.has(n)) || bareFunctions.some((f) => WRITE_FUNCTIONS.has(f));
  // SELECT ... INTO creates a table.
  if (command === "SelectStmt" && (stmt.SelectStmt as TNode | undefined)?.intoClause) return "ddl";
  if (READ_NODES.has(command)) return hidesWrite ? "write" : "read";
  if (command === "CopyStmt") return "write";
  if (ADMIN_NODES.has(command)) return hidesWrite ? "write" : "admin";
  if (command.endsWith("Stmt")) return "ddl";
  return "unknown";
}

type TNode = Record<string, unknown>;

function qualifiedName(rangeVar: TNode): string {
  const schema = typeof rangeVar.schemaname === "string" ? `${rangeVar.schemaname}.` : "";
  return `${schema}${String(rangeVar.relname)}`;
}

function isBareRangeVar(key: string, child: unknown): boolean {
  return (
    !/^[A-Z]/.test(key) &&
    typeof child === "object" &&
    child !== null &&
    typeof (child as TNode).relname === "string" &&
    "relpersistence" in (child as TNode)
  );
}

/** A TypeName node: a list of name parts and a type modifier. */
function isBareTypeName(child: unknown): child is { names: { String?: { sval?: string } }[] } {
  return (
    typeof child === "object" &&
    child !== null &&
    Array.isArray((child as TNode).names) &&
    typeof (child as TNode).typemod === "number"
  );
}

const QUOTING_SETTINGS = new Set(["standard_conforming_strings"]);

/**
 * Client encodings whose multi-byte characters may end in a byte below 0x80 (a backslash or a quote, read as a
 * character of its own by this parser, which reads UTF-8): with one of them the server would see a string end
 * where the analysis sees it go on. Names as Postgres compares them (lower case, no punctuation), aliases too.
 */
const UNSAFE_ENCODINGS = new Set(
  `sjis shiftjis mskanji win932 windows932 shiftjis2004 big5 win950 windows950 gbk win936 windows936 cp936
   uhc win949 windows949 cp949 johab gb18030`
    .split(/\s+/)
    .filter(Boolean),
);

/** An encoding's name as Postgres compares names: lower case, without punctuation (UTF_8, utf-8 are utf8). */
const encodingKey = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, "");

/** Whether statements sent in this client_encoding could be read differently by the server and the analysis. */
export function isUnsafeClientEncoding(name: string): boolean {
  return UNSAFE_ENCODINGS.has(encodingKey(name));
}

/** UTF8 by any of its names (Unicode is an alias). */
export function isUtf8EncodingName(name: string): boolean {
  const key = encodingKey(name);
  return key === "utf8" || key === "unicode";
}

/** SQL_ASCII: the server passes bytes on unconverted. */
export const isSqlAsciiEncodingName = (name: string) => encodingKey(name) === "sqlascii";

/**
 * Whether Postgres could read `value` as false when setting a boolean (parse_bool: a case-insensitive prefix
 * of false, no or off, or 0). Surrounding spaces and the lone "o" (which Postgres rejects) count too: erring
 * towards "could" only blocks a statement.
 */
function couldMeanOff(value: string): boolean {
  const v = value.trim().toLowerCase();
  return "false".startsWith(v) || "no".startsWith(v) || "off".startsWith(v) || v === "0";
}

/** The value of a string or number constant (possibly cast), else null. */
function constantString(node: unknown): string | null {
  if (!node || typeof node !== "object") return null;
  const n = node as TNode;
  const cast = n.TypeCast as TNode | undefined;
  if (cast) return constantString(cast.arg);
  const constant = n.A_Const as TNode | undefined;
  if (!constant) return null;
  const str = (constant.sval as TNode | undefined)?.sval;
  if (typeof str === "string") return str;
  const int = (constant.ival as TNode | undefined)?.ival;
  if (typeof int === "number") return String(int);
  if (constant.ival) return "0"; // libpg-query omits a zero value
  const bool = (constant.boolval as TNode | undefined)?.boolval;
  if (bool !== undefined || constant.boolval) return bool === true ? "true" : "false";
  return null;
}

const PRIVILEGE_SETTINGS = new Set(["role", "session_authorization"]);

/** A relation of pg_catalog: named there, or by a bare name with the reserved pg_ prefix. */
function isSystemCatalog(name: string): boolean {
  const dot = name.lastIndexOf(".");
  const schema = dot < 0 ? null : name.slice(0, dot).toLowerCase();
  return schema === "pg_catalog" || (schema === null && name.toLowerCase().startsWith("pg_"));
}

/** The statements of SQL text run by a built-in, or null when it does not parse. */
function parseInner(text: string): TNode[] | null {
  try {
    const parsed = parseSync(text) as { stmts?: { stmt?: TNode }[] };
    return (parsed.stmts ?? []).map((entry) => entry.stmt ?? {});
  } catch {
    return null;
  }
}

/**
 * Whether a WHERE (or MERGE's join condition) limits the rows a write reaches: it must read a column (a constant
 * condition, `not false` or `1 < 2`, holds for every row or none), not be a constant truth, and not compare a
 * column with itself. `WHERE CURRENT OF` names one row. A condition true for every row in other ways (`id > 0`)
 * is not caught: this guards against forgotten conditions, not against a user bent on writing everything.
 */
function bounds(condition: unknown): boolean {
  if (!condition || typeof condition !== "object") return false;
  const node = condition as TNode;
  if (node.CurrentOfExpr) return true;
  if (isConstantTrue(node) || isSelfComparison(node)) return false;
  return JSON.stringify(node).includes('"ColumnRef"');
}

/** `id = id`, `t.id >= t.id`: a column compared with itself. */
function isSelfComparison(node: TNode): boolean {
  const expr = node.A_Expr as TNode | undefined;
  if (!expr || expr.kind !== "AEXPR_OP") return false;
  const column = (side: unknown) => {
    const ref = (side as TNode | undefined)?.ColumnRef as TNode | undefined;
    return ref ? JSON.stringify(ref.fields) : null;
  };
  const left = column(expr.lexpr);
  return left !== null && left === column(expr.rexpr);
}

function isConstantTrue(node: unknown): boolean {
  if (!node || typeof node !== "object") return false;
  const n = node as TNode;
  const constant = n.A_Const as TNode | undefined;
  if (constant) return (constant.boolval as TNode | undefined)?.boolval === true;
  const cast = n.TypeCast as TNode | undefined;
  if (cast) return isConstantTrue(cast.arg);
  const expr = n.A_Expr as TNode | undefined;
  // 1 = 1, 'a' = 'a': both sides the same constant.
  if (expr && expr.kind === "AEXPR_OP" && JSON.stringify(expr.name) === '[{"String":{"sval":"="}}]') {
    const l = expr.lexpr as TNode | undefined;
    const r = expr.rexpr as TNode | undefined;
    return (
      Boolean(l?.A_Const && r?.A_Const) &&
      JSON.stringify(l?.A_Const).replace(/"location":\d+/g, "") ===
        JSON.stringify(r?.A_Const).replace(/"location":\d+/g, "")
    );
  }
  const bool = n.BoolExpr as TNode | undefined;
  if (bool && bool.boolop === "OR_EXPR") return (bool.args as unknown[]).some(isConstantTrue);
  if (bool && bool.boolop === "AND_EXPR") return (bool.args as unknown[]).every(isConstantTrue);
  return false;
}

function analyzeStatement(text: string, stmt: TNode): TStatementAnalysis {
  const command = Object.keys(stmt)[0] ?? "Unknown";
  const nested = new Set<string>();
  const tables = new Set<string>();
  const written = new Set<string>();
  const functions = new Set<string>();
  const operators = new Set<string>();
  const types = new Set<string>();
  const executes = new Set<string>();
  const cteNames = new Set<string>();
  const columnRefs = new Map<string, { qualifier: string | null; column: string }>();
  const starRefs = new Set<string | null>();
  const aliases: Record<string, string | null> = {};
  let unboundedWrite = false;
  let changesQuoting = false;
  let changesEncoding = false;
  /** Changes whose privileges apply without a privilege statement (set_config('role'), OWNER TO). */
  let changesPrivilege = false;
  /** Runs SQL text that is not a constant (query_to_xml of a column), or that does not parse. */
  let runsSqlText = false;
  const reshapes: { relation: string; column: string | null }[] = [];
  const storedSources: unknown[] = [];
  /**
   * Aliases hold for the whole statement, though SQL scopes them: one name bound to two relations (`t` in a
   * subquery and in the outer FROM) stands for any table of the statement (null), as a subquery's does.
   */
  const bindAlias = (name: string, table: string | null, derived = false) => {
    aliases[name] = name in aliases && aliases[name] !== table ? null : table;
    // Bound to anything but a derived table, its names are not only that table's output columns.
    if (!derived) derivedColumns.set(name, null);
  };
  /** Aliases bound only to subqueries and WITH queries → the names of their output columns (null: not only). */
  const derivedColumns = new Map<string, Set<string> | null>();
  /** Names of relations read without an alias (a WITH query's name among them, when it is read). */
  const plainNames: string[] = [];
  const bindDerived = (name: string, query: unknown, columnAliases: string[]) => {
    bindAlias(name, null, true);
    const known = derivedColumns.get(name);
    if (known === null) return;
    const names = known ?? new Set<string>();
    for (const output of [...outputNames(query), ...columnAliases]) names.add(output);
    derivedColumns.set(name, names);
  };

  const visit = (value: unknown, parentKey: string | null): void => {
    if (Array.isArray(value)) {
      for (const v of value) visit(v, parentKey);
      return;
    }
    if (!value || typeof value !== "object") return;
    for (const [rawKey, child] of Object.entries(value as TNode)) {
      // Typed fields (UpdateStmt.relation, CopyStmt.relation, IntoClause.rel, ...) hold a RangeVar without
      // the {RangeVar: ...} wrapper that list elements have: recognise it by shape.
      const key = isBareRangeVar(rawKey, child) ? "RangeVar" : rawKey;
      // A TypeName (a cast's, a column definition's, a parameter's) is a typed field, never wrapped either.
      if (isBareTypeName(child)) {
        const names = child.names;
        const type = names[names.length - 1]?.String?.sval;
        if (type) types.add(type);
      }
      if (/^[A-Z]/.test(key) && child && typeof child === "object") {
        nested.add(key);
        const node = child as TNode;
        if (key === "ExecuteStmt" && typeof node.name === "string") executes.add(node.name);
        // (A WITH clause feeds the values too: `with x as (select ssn ...) insert ... select * from x`.)
        if (key === "InsertStmt") storedSources.push(node.selectStmt, node.withClause, node.onConflictClause);
        // UPDATE ... FROM: its relations feed the SET values (their column aliases too).
        if (key === "UpdateStmt") storedSources.push(node.targetList, node.withClause, node.fromClause);
        if (key === "MergeStmt")
          storedSources.push(node.sourceRelation, node.mergeWhenClauses, node.withClause);
        if (key === "CreateTableAsStmt") storedSources.push(node.query);
        if (key === "SelectStmt" && node.intoClause) storedSources.push(node);
        if (key === "RangeVar") {
          tables.add(qualifiedName(node));
          const alias = node.alias as TRangeAlias | undefined;
          if (alias?.aliasname) bindAlias(alias.aliasname, qualifiedName(node));
          // Read under its own name, a relation's name qualifies its columns (and function-style calls).
          else if (typeof node.relname === "string") plainNames.push(qualifiedName(node), node.relname);
          const renamed = renamedColumns(node);
          if (renamed) starRefs.add(renamed);
        }
        if (key === "JoinExpr") {
          // `(a join b ...) as j`: j's columns come from every table of the statement, as a subquery's do.
          const alias = (node.alias as TRangeAlias | undefined)?.aliasname;
          if (alias) bindAlias(alias, null);
          const renamed = renamedColumns(node);
          if (renamed) starRefs.add(renamed);
        }
        if (key === "RangeSubselect") {
          const alias = node.alias as TRangeAlias | undefined;
          if (alias?.aliasname) bindDerived(alias.aliasname, node.subquery, stringsOf(alias.colnames));
        }
        if (key === "RangeFunction") {
          // A function in FROM: its columns are named by the alias list, or by the alias itself.
          const alias = node.alias as TRangeAlias | undefined;
          if (alias?.aliasname)
            bindDerived(alias.aliasname, null, [...stringsOf(alias.colnames), alias.aliasname]);
        }
        if (key === "CommonTableExpr" && typeof node.ctename === "string") {
          cteNames.add(node.ctename);
          bindDerived(node.ctename, node.ctequery, stringsOf(node.aliascolnames));
        }
        if (key === "ColumnRef") {
          const fields = (node.fields as TNode[] | undefined) ?? [];
          const names = fields.map((f) => (f.String as { sval?: string } | undefined)?.sval ?? null);
          const last = fields[fields.length - 1];
          const qualifier = names.length > 1 ? names.slice(0, -1).join(".") : null;
          if (last && "A_Star" in last) starRefs.add(qualifier);
          else {
            const column = names[names.length - 1];
            if (column) columnRefs.set(`${qualifier ?? ""}|${column}`, { qualifier, column });
          }
        }
        if (key === "A_Expr") {
          const name = (node.name as { String?: { sval?: string } }[] | undefined)
            ?.map((p) => p.String?.sval ?? "")
            .join(".");
          if (name) operators.add(name);
        }
        if (key === "FuncCall") {
          const name = (node.funcname as { String?: { sval?: string } }[] | undefined)
            ?.map((p) => p.String?.sval ?? "")
            .join(".");
          if (name) functions.add(name);
          const bare = name ? name.slice(name.lastIndexOf(".") + 1).toLowerCase() : "";
          const args = (node.args as unknown[] | undefined) ?? [];
          // Its SQL text runs as part of this statement: analysed with it (a DROP or pg_terminate_backend in
          // there is one here).
          for (const position of SQL_TEXT_ARGUMENTS.get(bare)?.(args.length) ?? []) {
            const text = constantString(args[position]);
            const inner = text === null ? null : parseInner(text);
            if (inner === null) runsSqlText = true;
            else for (const innerStmt of inner) visit(innerStmt, key);
          }
          if (SQL_BUILDING_FUNCTIONS.has(bare)) runsSqlText = true;
          if (bare === "set_config") {
            // A setting named by anything but a constant could be the one that matters, unless the value
            // is a constant no boolean setting accepts as off: pg_dump runs `set_config(name, 'view,
            // foreign-table', false) FROM pg_settings WHERE name = '...'` before anything else.
            const args = node.args as unknown[] | undefined;
            const setting = constantString(args?.[0]);
            const value = constantString(args?.[1]);
            if (
              (setting === null || QUOTING_SETTINGS.has(setting.toLowerCase())) &&
              (value === null || couldMeanOff(value))
            )
              changesQuoting = true;
            // set_config('role', ...) is SET ROLE. A setting named by anything but a constant may be role, unless
            // the value could not name a role in practice (pg_dump sets restrict_nonsystem_relation_kind to
            // 'view, foreign-table' by name from pg_settings).
            if (
              setting === null
                ? value === null || /^[^\s,]+$/.test(value)
                : PRIVILEGE_SETTINGS.has(setting.toLowerCase())
            )
              changesPrivilege = true;
            const encodingSetting = setting === null || setting.toLowerCase() === "client_encoding";
            if (encodingSetting && (value === null || isUnsafeClientEncoding(value))) changesEncoding = true;
          }
        }
        // SET client_encoding / SET NAMES (RESET returns to the encoding the agent checked at login).
        if (key === "VariableSetStmt" && String(node.name ?? "").toLowerCase() === "client_encoding") {
          const value = constantString((node.args as unknown[] | undefined)?.[0]);
          if (node.kind === "VAR_SET_VALUE" && (value === null || isUnsafeClientEncoding(value)))
            changesEncoding = true;
        }
        if (key === "VariableSetStmt" && QUOTING_SETTINGS.has(String(node.name ?? "").toLowerCase())) {
          const kind = String(node.kind ?? "");
          // RESET returns to the session's starting value, which the agent checked when the session began.
          const value = constantString((node.args as unknown[] | undefined)?.[0]);
          if (kind === "VAR_SET_VALUE" && !(value !== null && /^(on|true|yes|1)$/i.test(value)))
            changesQuoting = true;
        }
        if ((key === "UpdateStmt" || key === "DeleteStmt") && node.relation) {
          written.add(qualifiedName(node.relation as TNode));
          if (!bounds(node.whereClause)) unboundedWrite = true;
        }
        // INSERT ... SELECT ... ON CONFLICT DO UPDATE updates every existing row the query's rows collide with.
        const conflict = (key === "InsertStmt" ? node.onConflictClause : undefined) as TNode | undefined;
        const source = (node.selectStmt as TNode | undefined)?.SelectStmt as TNode | undefined;
        if (conflict?.action === "ONCONFLICT_UPDATE" && !bounds(conflict.whereClause) && source?.fromClause)
          unboundedWrite = true;
        // MERGE updates or deletes every target row its join condition matches.
        if (key === "MergeStmt" && !bounds(node.joinCondition)) unboundedWrite = true;
        if (key === "AlterTableCmd" && node.subtype === "AT_ChangeOwner") changesPrivilege = true;
        if (key === "RenameStmt" && node.relation) {
          const relation = qualifiedName(node.relation as TNode);
          if (node.renameType === "OBJECT_COLUMN")
            reshapes.push({ relation, column: String(node.subname ?? "") });
          else reshapes.push({ relation, column: null });
        }
        if (key === "AlterObjectSchemaStmt" && node.relation)
          reshapes.push({ relation: qualifiedName(node.relation as TNode), column: null });
        if (key === "AlterTableStmt" && node.relation) {
          const relation = qualifiedName(node.relation as TNode);
          for (const cmd of (node.cmds as { AlterTableCmd?: TNode }[] | undefined) ?? []) {
            const subtype = String(cmd.AlterTableCmd?.subtype ?? "");
            // A generated column or a USING expression copies other columns; detaching a partition or a child
            // takes it out of its parent's rules.
            const generated =
              subtype === "AT_AddColumn" &&
              JSON.stringify(cmd.AlterTableCmd?.def ?? {}).includes("CONSTR_GENERATED");
            if (
              generated ||
              subtype === "AT_AlterColumnType" ||
              subtype === "AT_SetExpression" ||
              subtype === "AT_DetachPartition" ||
              subtype === "AT_DetachPartitionFinalize" ||
              subtype === "AT_DropInherit"
            )
              reshapes.push({ relation, column: null });
            // Detached: the partition (or child) leaves the parent's rules too.
            const detached = (cmd.AlterTableCmd?.def as TNode | undefined)?.PartitionCmd as TNode | undefined;
            if (subtype === "AT_DetachPartition" && detached?.name)
              reshapes.push({ relation: qualifiedName(detached.name as TNode), column: null });
          }
        }
        if ((key === "InsertStmt" || key === "MergeStmt") && node.relation)
          written.add(qualifiedName(node.relation as TNode));
        if (key === "CopyStmt" && node.relation && node.is_from)
          written.add(qualifiedName(node.relation as TNode));
        if (key === "TruncateStmt") {
          for (const r of (node.relations as { RangeVar?: TNode }[] | undefined) ?? [])
            if (r.RangeVar) written.add(qualifiedName(r.RangeVar));
          unboundedWrite = true;
        }
        if (
          key === "DropStmt" &&
          (node.removeType === "OBJECT_TABLE" ||
            node.removeType === "OBJECT_VIEW" ||
            node.removeType === "OBJECT_MATVIEW")
        ) {
          for (const obj of (node.objects as
            { List?: { items?: { String?: { sval?: string } }[] } }[] | undefined) ?? []) {
            const name = obj.List?.items?.map((i) => i.String?.sval ?? "").join(".");
            if (name) written.add(name);
          }
        }
      }
      visit(child, key);
    }
  };
  visit(stmt, null);
  nested.delete(command);
  const cteShadowed = [...cteNames].filter((name) => tables.has(name));
  // A derived table's name that also names a relation read elsewhere is not only the derived table's.
  for (const name of plainNames) if (!cteNames.has(name)) derivedColumns.set(name, null);
  for (const name of cteNames) tables.delete(name);

  let cls = classify(command, nested, stmt, functions);
  // COPY ... TO only reads; COPY ... FROM writes (classify() assumed the worse case).
  if (command === "CopyStmt" && !(stmt.CopyStmt as TNode).is_from)
    cls = (stmt.CopyStmt as TNode).query ? classify("SelectStmt", nested, stmt, functions) : "read";
  const into = (stmt.SelectStmt as { intoClause?: { rel?: TNode } } | undefined)?.intoClause?.rel;
  if (into) written.add(qualifiedName(into));
  // DDL that names a table (ALTER TABLE, CREATE INDEX ...) writes its schema; SELECT INTO only its target.
  else if (cls === "ddl") for (const t of tables) written.add(t);
  const tablesRead = [...tables].filter((t) => !written.has(t) || cls === "read");
  // Writing pg_settings runs set_config() for each row (role and session_authorization among them).
  if ([...written].some((t) => t === "pg_settings" || t === "pg_catalog.pg_settings")) {
    changesQuoting = true;
    changesPrivilege = true;
  }
  // Writing a system catalog (pg_class, pg_attribute, pg_authid ...) changes schema and privileges behind every
  // statement that would: treated as the strongest of them.
  if (cls === "write" && [...written].some(isSystemCatalog)) changesPrivilege = true;
  if (changesPrivilege) cls = "privilege";

  const fingerprint = fingerprintOf(stmt);
  return {
    text,
    command,
    class: cls,
    tablesRead: tablesRead.sort(),
    tablesWritten: [...written].sort(),
    nestedCommands: [...nested].filter((n) => n.endsWith("Stmt")).sort(),
    functions: [...functions].sort(),
    ...(operators.size > 0 ? { operators: [...operators].sort() } : {}),
    ...(types.size > 0 ? { types: [...types].sort() } : {}),
    ...(reshapes.length > 0 ? { reshapes } : {}),
    unboundedWrite,
    destructive: DESTRUCTIVE_NODES.has(command) || [...nested].some((n) => DESTRUCTIVE_NODES.has(n)),
    fingerprint,
    columnRefs: [...columnRefs.values()],
    starRefs: [...starRefs],
    aliases,
    copyTo: command === "CopyStmt" && !(stmt.CopyStmt as TNode).is_from,
    ...(command === "CopyStmt" && !(stmt.CopyStmt as TNode).is_from
      ? { copyOut: copyOutOf(stmt.CopyStmt as TNode) }
      : {}),
    runsCode:
      runsSqlText ||
      CODE_NODES.has(command) ||
      [...nested].some((n) => CODE_NODES.has(n)) ||
      // COPY ... PROGRAM runs a command; COPY to or from a server file reads or writes any file the server can
      // (postgresql.auto.conf among them).
      (command === "CopyStmt" &&
        (Boolean((stmt.CopyStmt as TNode).is_program) || (stmt.CopyStmt as TNode).filename !== undefined)),
    changesQuoting,
    ...(changesEncoding ? { changesEncoding } : {}),
    preparedStatement: preparedStatementOf(command, (stmt[command] ?? {}) as TNode),
    ...(executes.size > 0 ? { executes: [...executes] } : {}),
    ...cursorOf(command, (stmt[command] ?? {}) as TNode),
    ...transactionOf(command, (stmt[command] ?? {}) as TNode),
    stored: storedSources.length > 0 ? collectStored(storedSources, cteNames) : null,
    ...(cteShadowed.length > 0 ? { cteShadowed } : {}),
    ...(derivedColumns.size > 0 ? { derivedColumns: derivedColumnsOf(derivedColumns) } : {}),
  };
}

/** Clauses that choose rows but produce no value: what they read is never stored. */
const ROW_FILTERS = new Set(["whereClause", "havingClause", "quals"]);

type TRangeAlias = { aliasname?: string; colnames?: unknown[] };

function derivedColumnsOf(derived: Map<string, Set<string> | null>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, columns] of derived) if (columns) out[name] = [...columns];
  return out;
}

/** The `String` values of a list of name nodes (column alias lists). */
function stringsOf(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item) => {
    const sval = ((item as TNode).String as { sval?: unknown } | undefined)?.sval;
    return typeof sval === "string" ? [sval] : [];
  });
}

/**
 * The output column names a query gives explicitly: its select list's `AS` names and plain column names (of
 * the first branch of a set operation, which names the result). Stars add none: they expand to columns of
 * relations the statement reads.
 */
function outputNames(query: unknown): string[] {
  let select = (query as TNode | undefined)?.SelectStmt as TNode | undefined;
  while (select?.larg) select = select.larg as TNode;
  const targets = (select?.targetList as TNode[] | undefined) ?? [];
  return targets.flatMap((target) => {
    const res = target.ResTarget as TNode | undefined;
    if (typeof res?.name === "string") return [res.name];
    const fields = ((res?.val as TNode | undefined)?.ColumnRef as TNode | undefined)?.fields;
    const last = Array.isArray(fields) ? (fields.at(-1) as TNode | undefined) : undefined;
    const sval = (last?.String as { sval?: unknown } | undefined)?.sval;
    return typeof sval === "string" ? [sval] : [];
  });
}

/**
 * `from customers as t(a, b, c)` renames a relation's columns by position: `b` may then be a masked column
 * under another name. Such a relation counts as read whole, like `t.*`: returns the star's qualifier (the
 * alias), or null when there is no column list.
 */
function renamedColumns(node: TNode): string | null {
  const alias = node.alias as TRangeAlias | undefined;
  return alias?.aliasname && (alias.colnames?.length ?? 0) > 0 ? alias.aliasname : null;
}

/** Column, star and function references and relations in the subtrees that feed stored values. */
function collectStored(sources: unknown[], cteNames: Set<string>): TStoredSources {
  const columnRefs = new Map<string, { qualifier: string | null; column: string }>();
  const starRefs = new Set<string | null>();
  const functions = new Set<string>();
  const tables = new Set<string>();
  const walk = (value: unknown, rawKey: string): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v, rawKey);
      return;
    }
    if (!value || typeof value !== "object") return;
    const node = value as TNode;
    if (rawKey === "RangeVar" || isBareRangeVar(rawKey, node)) {
      const name = qualifiedName(node);
      if (!cteNames.has(name)) tables.add(name);
      const renamed = renamedColumns(node);
      if (renamed) starRefs.add(renamed);
    } else if (rawKey === "JoinExpr") {
      const renamed = renamedColumns(node);
      if (renamed) starRefs.add(renamed);
    } else if (rawKey === "ColumnRef") {
      const fields = (node.fields as TNode[] | undefined) ?? [];
      const names = fields.map((f) => (f.String as { sval?: string } | undefined)?.sval ?? null);
      const qualifier = names.length > 1 ? names.slice(0, -1).join(".") : null;
      const last = fields[fields.length - 1];
      if (last && "A_Star" in last) starRefs.add(qualifier);
      else {
        const column = names[names.length - 1];
        if (column) columnRefs.set(`${qualifier ?? ""}|${column}`, { qualifier, column });
      }
    } else if (rawKey === "FuncCall") {
      const name = (node.funcname as { String?: { sval?: string } }[] | undefined)
        ?.map((p) => p.String?.sval ?? "")
        .join(".");
      if (name) functions.add(name);
    }
    for (const [key, child] of Object.entries(node)) if (!ROW_FILTERS.has(key)) walk(child, key);
  };
  for (const source of sources) walk(source, "");
  return {
    columnRefs: [...columnRefs.values()],
    starRefs: [...starRefs],
    functions: [...functions],
    tables: [...tables],
  };
}

/** An option's value as Postgres reads it (defGetString): numbers as their text, `HEADER` alone as true. */
function defElemValue(arg: unknown): string | boolean | null {
  if (arg === undefined) return true;
  const node = arg as {
    String?: { sval?: string };
    Boolean?: { boolval?: boolean };
    Integer?: { ival?: number };
    Float?: { fval?: string };
  };
  if (node.String) return node.String.sval ?? "";
  if (node.Boolean) return node.Boolean.boolval === true;
  if (node.Integer) return String(node.Integer.ival ?? 0);
  if (node.Float) return node.Float.fval ?? "";
  return null;
}

const TRUE_WORDS = new Set(["true", "on", "1", "yes"]);

function copyOutOf(copy: TNode): TCopyOut {
  const options = new Map<string, string | boolean | null>();
  for (const item of (copy.options as { DefElem?: { defname?: string; arg?: unknown } }[] | undefined) ?? [])
    if (item.DefElem?.defname)
      options.set(item.DefElem.defname.toLowerCase(), defElemValue(item.DefElem.arg));
  const text = (name: string): string | null => {
    const value = options.get(name);
    return typeof value === "string" ? value : null;
  };
  const rawFormat = (text("format") ?? "text").toLowerCase();
  const format = rawFormat === "csv" || rawFormat === "binary" ? rawFormat : "text";
  const header = options.get("header");
  const quote = text("quote") ?? '"';
  const relation = copy.relation ? qualifiedName(copy.relation as TNode) : null;
  const attlist = (copy.attlist as { String?: { sval?: string } }[] | undefined)?.map(
    (a) => a.String?.sval ?? "",
  );
  return {
    format,
    delimiter: text("delimiter") ?? (format === "csv" ? "," : "\t"),
    quote,
    escape: text("escape") ?? quote,
    nullString: text("null") ?? (format === "csv" ? "" : "\\N"),
    header: typeof header === "string" ? TRUE_WORDS.has(header.toLowerCase()) : header === true,
    encoding: text("encoding"),
    toClient: copy.filename === undefined && !copy.is_program,
    relation,
    columns:
      attlist && attlist.length > 0 ? attlist : copy.query ? copyQueryColumns(copy.query as TNode) : null,
  };
}

/** The names Postgres gives a query's output columns (FigureColname, roughly); null when a `*` hides them. */
function copyQueryColumns(query: TNode): string[] | null {
  let select = query.SelectStmt as
    { targetList?: { ResTarget?: { name?: string; val?: TNode } }[]; larg?: TNode } | undefined;
  // A set operation's result is named by its first branch.
  while (select?.larg) select = select.larg as typeof select;
  if (!select?.targetList) return null;
  const names: string[] = [];
  for (const target of select.targetList) {
    const expression = expressionName(target.ResTarget?.val);
    if (expression === null) return null;
    // Renamed, a column's own name still hints at what it holds (results are hinted by the origin column).
    const alias = target.ResTarget?.name;
    names.push(
      alias && alias !== expression && expression !== "?column?"
        ? `${alias} ${expression}`
        : (alias ?? expression),
    );
  }
  return names;
}

function expressionName(node: TNode | undefined): string | null {
  if (!node) return "?column?";
  const ref = node.ColumnRef as { fields?: { String?: { sval?: string }; A_Star?: unknown }[] } | undefined;
  if (ref) {
    const last = ref.fields?.[ref.fields.length - 1];
    return last?.A_Star ? null : (last?.String?.sval ?? "?column?");
  }
  const call = node.FuncCall as { funcname?: { String?: { sval?: string } }[] } | undefined;
  if (call) return call.funcname?.[call.funcname.length - 1]?.String?.sval ?? "?column?";
  const cast = node.TypeCast as { arg?: TNode } | undefined;
  if (cast) return expressionName(cast.arg);
  return "?column?";
}

const TRANSACTION_KINDS: Record<string, NonNullable<TStatementAnalysis["transaction"]>> = {
  TRANS_STMT_BEGIN: "begin",
  TRANS_STMT_START: "begin",
  TRANS_STMT_COMMIT: "commit",
  TRANS_STMT_PREPARE: "commit",
  TRANS_STMT_COMMIT_PREPARED: "commit",
  TRANS_STMT_ROLLBACK: "rollback",
  TRANS_STMT_ROLLBACK_PREPARED: "rollback",
  TRANS_STMT_SAVEPOINT: "savepoint",
  TRANS_STMT_RELEASE: "savepoint",
  TRANS_STMT_ROLLBACK_TO: "savepoint",
};

function transactionOf(command: string, node: TNode): Pick<TStatementAnalysis, "transaction"> {
  const kind = command === "TransactionStmt" ? TRANSACTION_KINDS[String(node.kind)] : undefined;
  return kind ? { transaction: kind } : {};
}

function cursorOf(command: string, node: TNode): Pick<TStatementAnalysis, "cursor"> {
  const name = typeof node.portalname === "string" ? node.portalname : null;
  if (command === "DeclareCursorStmt") return { cursor: { op: "declare", name } };
  if (command === "FetchStmt") return { cursor: { op: "fetch", name } };
  if (command === "ClosePortalStmt") return { cursor: { op: "close", name } };
  if (command === "DiscardStmt" && node.target === "DISCARD_ALL")
    return { cursor: { op: "close", name: null } };
  return {};
}

function preparedStatementOf(command: string, node: TNode): TStatementAnalysis["preparedStatement"] {
  const name = typeof node.name === "string" ? node.name : null;
  if (command === "PrepareStmt") return { op: "prepare", name };
  if (command === "ExecuteStmt") return { op: "execute", name };
  if (command === "DeallocateStmt") return { op: "deallocate", name: node.isall ? null : name };
  if (command === "DiscardStmt" && node.target === "DISCARD_ALL") return { op: "deallocate", name: null };
  return null;
}

/**
 * Groups statements that differ only in constants (`where id = 1` and `where id = 42`): a hash of the parse
 * tree without constant values and source positions. Computed here rather than with libpg-query's
 * fingerprintSync, which costs a second pass through the parser and grows its WASM heap by ~100 MB under
 * a stream of distinct statements.
 */
function fingerprintOf(stmt: TNode): string {
  const normalized = JSON.stringify(stmt, (key, value: unknown) =>
    key === "location" ? undefined : key === "A_Const" ? "?" : value,
  );
  return createHash("sha1").update(normalized).digest("hex").slice(0, 16);
}

/**
 * Column references resolved to tables where the statement says which: an alias or table qualifier
 * names it, or the statement reads a single table and nothing else. Otherwise the name stays as written.
 */
export function resolvedColumns(s: TStatementAnalysis): string[] {
  const tables = [...new Set([...s.tablesRead, ...s.tablesWritten])];
  const bare = (t: string) => t.slice(t.lastIndexOf(".") + 1);
  // With a subquery or CTE in play, an unqualified name may be one of its output columns: leave it bare.
  const derived = Object.values(s.aliases).some((target) => target === null);
  const out = new Set<string>();
  for (const ref of s.columnRefs) {
    if (ref.qualifier) {
      const target = ref.qualifier in s.aliases ? s.aliases[ref.qualifier] : ref.qualifier;
      out.add(`${bare(target ?? ref.qualifier)}.${ref.column}`);
    } else out.add(tables.length === 1 && !derived ? `${bare(tables[0]!)}.${ref.column}` : ref.column);
  }
  return [...out].sort();
}

/**
 * Whether the server would read this text differently with standard_conforming_strings off: it holds a
 * plain '...' string constant with a backslash in it, which the server would then take as an escape (and
 * the string would end somewhere else than the agent's parser, which always reads with it on, believes).
 * Text the scanner cannot read counts as such. Requires initParser() to have resolved.
 */
export function readsDifferentlyWithBackslashEscapes(sql: string): boolean {
  if (!sql.includes("\\")) return false;
  try {
    return scanSync(sql).tokens.some(
      (t) => t.tokenName === "SCONST" && t.text.startsWith("'") && t.text.includes("\\"),
    );
  } catch {
    return true;
  }
}

/** Parses a (possibly multi-statement) SQL string. Requires initParser() to have resolved. */
export function analyzeSql(sql: string): TAnalysis {
  let parsed: { stmts?: { stmt?: TNode; stmt_location?: number; stmt_len?: number }[] };
  // The parser refuses "", which Postgres answers with EmptyQueryResponse: nothing to analyse, nothing to refuse.
  if (sql.trim() === "") return { ok: true, statements: [] };
  try {
    parsed = parseSync(sql) as typeof parsed;
  } catch (error) {
    return { ok: false, error: (error as Error).message || "could not parse statement" };
  }
  // Offsets are in bytes of the UTF-8 text.
  const bytes = Buffer.from(sql, "utf8");
  const statements = (parsed.stmts ?? []).map((entry) => {
    const start = entry.stmt_location ?? 0;
    const end = entry.stmt_len ? start + entry.stmt_len : bytes.length;
    const text = bytes.subarray(start, end).toString("utf8").trim();
    return analyzeStatement(text, entry.stmt ?? {});
  });
  return { ok: true, statements };
}
