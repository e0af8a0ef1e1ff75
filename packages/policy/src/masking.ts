// Masking: which result values a given identity must not see, and what it sees instead.
//
// Two questions per result column:
//  1. Is it a direct reference to a table column? The agent learns that from RowDescription (table OID +
//     attribute number, which Postgres tracks through aliases, subqueries and CTEs) and its catalog; the
//     column's rule applies.
//  2. Is it computed (an expression, aggregate, function, cast, JSON/row/array constructor ...)? Then it is
//     masked when the statement is *tainted*: it references a sensitive column anywhere, expands a star or
//     whole row over a table with sensitive columns, or does something whose data flow the engine cannot
//     follow (cursors, EXECUTE, functions outside a known-pure list). When in doubt, mask.
import { hash } from "node:crypto";
import { isUtf8EncodingName, type TStatementAnalysis, type TStoredSources } from "./analyze.ts";

export type TMaskingStrategy = "redact" | "partial" | "hash" | "null" | "format_preserving";

export interface TMaskingRuleSpec {
  id: string;
  name: string;
  /** "table.column", "schema.table.column", "*.column" or "table.*". */
  columnPattern: string | null;
  /** A content detector id; applies to values of any column that the detector recognises. */
  detector: string | null;
  strategy: TMaskingStrategy;
  exemptIdentities: string[];
  exemptGroups: string[];
}

interface TColumnRule {
  schema: string | null;
  table: string;
  column: string;
  strategy: TMaskingStrategy;
  ruleId: string;
  ruleName: string;
}

export interface TCompiledMasking {
  columnRules: TColumnRule[];
  detectorRules: { detector: string; strategy: TMaskingStrategy; ruleId: string; ruleName: string }[];
}

export const NO_MASKING: TCompiledMasking = { columnRules: [], detectorRules: [] };

/** The rules that apply to one identity (exemptions removed). */
export function compileMaskingRules(
  rules: readonly TMaskingRuleSpec[],
  who: { identityName: string; groups: readonly string[] },
): TCompiledMasking {
  const compiled: TCompiledMasking = { columnRules: [], detectorRules: [] };
  for (const rule of rules) {
    if (rule.exemptIdentities.includes(who.identityName)) continue;
    if (rule.exemptGroups.some((g) => who.groups.includes(g))) continue;
    if (rule.detector) {
      compiled.detectorRules.push({
        detector: rule.detector,
        strategy: rule.strategy,
        ruleId: rule.id,
        ruleName: rule.name,
      });
    }
    if (rule.columnPattern) {
      const parts = rule.columnPattern.toLowerCase().split(".");
      const column = parts.pop();
      const table = parts.pop();
      if (!column || !table) continue;
      compiled.columnRules.push({
        schema: parts.pop() ?? null,
        table,
        column,
        strategy: rule.strategy,
        ruleId: rule.id,
        ruleName: rule.name,
      });
    }
  }
  return compiled;
}

/**
 * The rules with those of related tables added: a partition or inheritance child holds rows its ancestors
 * return, and an ancestor returns its descendants' rows, so a rule on one column applies to the same column of
 * each relative (`relatives`: a relation's qualified name → its ancestors' and descendants'). The same object
 * when no rule reaches a relative.
 */
export function withInheritedRules(
  masking: TCompiledMasking,
  relatives: ReadonlyMap<string, readonly string[]>,
): TCompiledMasking {
  if (masking.columnRules.length === 0 || relatives.size === 0) return masking;
  const added: TColumnRule[] = [];
  for (const [relation, related] of relatives) {
    const { schema, table } = splitTable(relation.toLowerCase());
    for (const rule of masking.columnRules) {
      if (tableMatches(rule, relation) || !related.some((r) => tableMatches(rule, r))) continue;
      added.push({ ...rule, schema, table });
    }
  }
  return added.length === 0 ? masking : { ...masking, columnRules: [...masking.columnRules, ...added] };
}

function splitTable(name: string): { schema: string | null; table: string } {
  const i = name.lastIndexOf(".");
  return i < 0 ? { schema: null, table: name } : { schema: name.slice(0, i), table: name.slice(i + 1) };
}

function tableMatches(rule: TColumnRule, tableName: string): boolean {
  const { schema, table } = splitTable(tableName.toLowerCase());
  if (rule.table !== "*" && rule.table !== table) return false;
  // A rule without a schema matches the table in any schema; with one, it must agree when we know it.
  return rule.schema === null || schema === null || rule.schema === schema;
}

/** The rule for one table column, if any. */
export function columnRuleFor(
  masking: TCompiledMasking,
  tableName: string,
  column: string,
): TColumnRule | null {
  const col = column.toLowerCase();
  for (const rule of masking.columnRules) {
    if ((rule.column === "*" || rule.column === col) && tableMatches(rule, tableName)) return rule;
  }
  return null;
}

/** Column names of a table when the caller knows the schema (the agent reads it from the database). */
export type TSchemaLookup = (table: string) => readonly string[] | undefined;

function tableHasRules(masking: TCompiledMasking, tableName: string, schema?: TSchemaLookup): boolean {
  const columns = schema?.(tableName);
  // With the table's columns known, only rules that hit one of them count; otherwise any rule that could.
  if (columns) return columns.some((c) => columnRuleFor(masking, tableName, c) !== null);
  return masking.columnRules.some((rule) => tableMatches(rule, tableName));
}

// Functions whose result depends only on their arguments (no table access, no dynamic SQL, no side channel).
// Anything else called in a statement that touches masked data taints it.
const PURE_FUNCTIONS = new Set(
  `abs ceil ceiling floor round trunc sign sqrt cbrt exp ln log power mod div greatest least random
   lower upper initcap length char_length character_length octet_length bit_length trim btrim ltrim rtrim lpad rpad
   substr substring left right replace translate reverse repeat concat concat_ws format position strpos split_part
   starts_with md5 sha256 sha512 encode decode to_hex ascii chr regexp_replace regexp_match regexp_matches
   regexp_split_to_array regexp_split_to_table regexp_count regexp_substr regexp_like quote_ident quote_literal
   quote_nullable string_agg array_agg json_agg jsonb_agg json_object_agg jsonb_object_agg xmlagg count sum avg min max
   bool_and bool_or every stddev variance percentile_cont percentile_disc mode row_number rank dense_rank ntile lag lead
   first_value last_value nth_value now current_timestamp current_date current_time localtime localtimestamp
   clock_timestamp statement_timestamp transaction_timestamp timeofday date_trunc date_part extract age make_date
   make_time make_timestamp make_timestamptz make_interval to_char to_date to_number to_timestamp justify_days
   justify_hours justify_interval isfinite coalesce nullif array_length array_upper array_lower cardinality unnest
   array_to_string string_to_array array_position array_positions array_remove array_replace array_cat array_append
   array_prepend to_json to_jsonb row_to_json array_to_json json_build_object jsonb_build_object json_build_array
   jsonb_build_array jsonb_set jsonb_insert json_extract_path jsonb_extract_path json_extract_path_text
   jsonb_extract_path_text jsonb_pretty json_typeof jsonb_typeof jsonb_strip_nulls json_strip_nulls
   jsonb_path_query jsonb_path_exists jsonb_array_elements json_array_elements jsonb_each json_each jsonb_object_keys
   json_object_keys jsonb_array_length json_array_length generate_series gen_random_uuid uuid_generate_v4 version
   current_user session_user current_schema current_database pg_backend_pid inet_client_addr pg_typeof
   num_nulls num_nonnulls xmlelement xmlforest xmlconcat xmlcomment pg_sleep to_tsvector to_tsquery plainto_tsquery
   phraseto_tsquery websearch_to_tsquery ts_rank ts_rank_cd ts_headline setweight`
    .split(/\s+/)
    .filter(Boolean),
);

// Catalog functions: they return schema metadata (definitions, names, privileges, sizes, settings) or
// sequence values, never rows of a user table. pg_dump, psql's \d and GUI clients call them in almost every
// catalog query.
const CATALOG_FUNCTIONS = new Set(
  `acldefault aclexplode array_dims format_type obj_description col_description shobj_description
   pg_get_userbyid pg_get_expr pg_get_constraintdef pg_get_indexdef pg_get_viewdef pg_get_triggerdef pg_get_ruledef
   pg_get_functiondef pg_get_function_arguments pg_get_function_identity_arguments pg_get_function_result
   pg_get_function_sqlbody pg_get_function_arg_default pg_get_statisticsobjdef pg_get_statisticsobjdef_columns
   pg_get_statisticsobjdef_expressions pg_get_partkeydef pg_get_partition_constraintdef pg_get_serial_sequence
   pg_get_keywords pg_get_replica_identity_index pg_options_to_table pg_encoding_to_char pg_char_to_encoding
   pg_encoding_max_length pg_table_is_visible pg_type_is_visible pg_function_is_visible pg_operator_is_visible
   pg_opclass_is_visible pg_opfamily_is_visible pg_collation_is_visible pg_conversion_is_visible
   pg_statistics_obj_is_visible pg_ts_parser_is_visible pg_ts_dict_is_visible pg_ts_template_is_visible
   pg_ts_config_is_visible pg_is_other_temp_schema pg_my_temp_schema pg_relation_is_updatable
   pg_column_is_updatable pg_relation_size pg_total_relation_size pg_table_size pg_indexes_size
   pg_database_size pg_tablespace_size pg_size_pretty pg_size_bytes pg_relation_filenode pg_relation_filepath
   pg_tablespace_location pg_is_in_recovery pg_postmaster_start_time pg_conf_load_time current_setting
   current_schemas pg_current_xact_id txid_current pg_current_wal_lsn pg_last_wal_replay_lsn
   pg_last_xact_replay_timestamp pg_has_role has_table_privilege has_column_privilege has_any_column_privilege
   has_schema_privilege has_database_privilege has_function_privilege has_sequence_privilege
   has_type_privilege has_language_privilege has_tablespace_privilege has_foreign_data_wrapper_privilege
   has_server_privilege has_parameter_privilege row_security_active pg_get_object_address pg_identify_object
   pg_describe_object pg_identify_object_as_address to_regclass to_regtype to_regproc to_regprocedure
   to_regnamespace to_regrole to_regoper to_regoperator to_regcollation pg_column_size
   pg_indexam_has_property pg_index_has_property pg_index_column_has_property pg_collation_actual_version
   pg_partition_ancestors pg_partition_tree pg_partition_root nextval currval setval lastval`
    .split(/\s+/)
    .filter(Boolean),
);

// Functions that move data somewhere the result-masking cannot see, for a later statement to read: session
// settings, NOTIFY payloads, sequences, advisory locks (pg_locks shows their keys), large objects, other
// databases, files, WAL messages, replication origins.
const SIDE_CHANNEL_FUNCTIONS = new Set([
  "set_config",
  "pg_notify",
  "pg_logical_emit_message",
  "pg_create_restore_point",
  "dblink",
  "dblink_exec",
  "dblink_send_query",
  "dblink_open",
  "lowrite",
  "lo_write",
  "lo_create",
  "lo_creat",
  "lo_truncate",
  "lo_truncate64",
  "lo_from_bytea",
  "lo_put",
  "lo_import",
  "lo_export",
  "pg_file_write",
  "setval",
  // How many times a statement calls nextval is data (currval shows it after); setseed fixes what random() gives.
  "nextval",
  "setseed",
]);
/** Statements that define foreign data: a foreign table may be this database's masked table under another name. */
const FOREIGN_DATA_COMMANDS = new Set([
  "CreateForeignTableStmt",
  "ImportForeignSchemaStmt",
  "CreateForeignServerStmt",
  "AlterForeignServerStmt",
  "CreateUserMappingStmt",
  "AlterUserMappingStmt",
]);

/** Families of such functions, by prefix: every advisory lock, every replication-origin function. */
const SIDE_CHANNEL_PREFIXES = ["pg_advisory_", "pg_try_advisory_", "pg_replication_origin_"];

function isSideChannel(name: string): boolean {
  return SIDE_CHANNEL_FUNCTIONS.has(name) || SIDE_CHANNEL_PREFIXES.some((p) => name.startsWith(p));
}

// The planner's statistics: most common values and histogram bounds are values of the table's columns.
const STATISTICS_RELATIONS = new Set([
  "pg_stats",
  "pg_statistic",
  "pg_stats_ext",
  "pg_stats_ext_exprs",
  "pg_statistic_ext_data",
]);

const OPAQUE_COMMANDS = new Set(["FetchStmt", "ExecuteStmt", "CallStmt", "DoStmt"]);
/** Commands that run code defined elsewhere (a FETCH runs its cursor's query, judged with the cursor). */
const CODE_COMMANDS = new Set(["ExecuteStmt", "CallStmt", "DoStmt"]);

function runsCodeElsewhere(s: TStatementAnalysis): boolean {
  return s.runsCode || CODE_COMMANDS.has(s.command) || s.nestedCommands.some((c) => CODE_COMMANDS.has(c));
}

export interface TStatementMasking {
  /** Computed result columns are masked (see the file comment). */
  tainted: boolean;
  /**
   * Runs code the agent does not see (a function outside pg_catalog, DO, CALL, EXECUTE of a prepared
   * statement): it may have closed and opened cursors, so what the agent knows of them no longer holds.
   */
  runsUnknownCode?: boolean;
  reasons: string[];
  /** Sensitive columns the statement references, as "table.column". */
  sensitiveRefs: string[];
  /** The strategy for computed columns: the referenced column's own when there is exactly one. */
  computedStrategy: TMaskingStrategy;
  /** Set when the statement must not run at all (data would leave outside result rows). */
  block: { ruleName: string; message: string } | null;
}

export const UNTAINTED: TStatementMasking = {
  tainted: false,
  reasons: [],
  sensitiveRefs: [],
  computedStrategy: "redact",
  block: null,
};

function baseName(fn: string): string {
  const i = fn.lastIndexOf(".");
  return (i < 0 ? fn : fn.slice(i + 1)).toLowerCase();
}

// The helpers initdb defines in information_schema for its views; JDBC's DatabaseMetaData calls them directly
// (getPrimaryKeys, getIndexInfo). They compute from catalog values; only a superuser could redefine them.
const INFORMATION_SCHEMA_FUNCTIONS = new Set(
  `_pg_expandarray _pg_index_position _pg_truetypid _pg_truetypmod _pg_char_max_length _pg_char_octet_length
   _pg_numeric_precision _pg_numeric_precision_radix _pg_numeric_scale _pg_datetime_precision _pg_interval_type`
    .split(/\s+/)
    .filter(Boolean),
);

/**
 * A built-in whose data flow is known: qualified with pg_catalog (or one of information_schema's helpers), or by
 * its bare name unless a function of that name exists outside pg_catalog (`lower(1)` runs a `public.lower(int)`
 * if there is one).
 */
function knownFunction(name: string, userFunctions?: ReadonlySet<string>): boolean {
  const dot = name.lastIndexOf(".");
  const schema = dot >= 0 ? name.slice(0, dot).toLowerCase() : null;
  if (schema === "information_schema") return INFORMATION_SCHEMA_FUNCTIONS.has(baseName(name));
  if (schema !== null && schema !== "pg_catalog") return false;
  const base = baseName(name);
  // A superuser may define functions in pg_catalog too: listed as "pg_catalog.name" (and by the bare name).
  if (userFunctions?.has(dot < 0 ? base : `pg_catalog.${base}`)) return false;
  return PURE_FUNCTIONS.has(base) || CATALOG_FUNCTIONS.has(base);
}

/** What the caller knows of the database's schema (the agent reads it from the database). */
export interface TSchemaInfo {
  columnsOf?: TSchemaLookup;
  viewSources?: TViewSourcesLookup;
  /** Lower-cased names of the functions defined outside pg_catalog and information_schema (extensions'
   * aside). */
  userFunctions?: ReadonlySet<string>;
  /** Operators defined outside pg_catalog and information_schema (extensions' aside), by symbol. */
  userOperators?: ReadonlySet<string>;
  /**
   * Names of the types a cast whose function is defined outside pg_catalog (extensions' aside) converts from or
   * to, and of the domains, arrays and composite types (tables' row types among them) over them: naming one, or
   * reading a relation of one, may run that function.
   */
  userCastTypes?: ReadonlySet<string>;
}

// Built-ins that run a query or read stored data given as an argument.
const DATA_READING_BUILTINS = new Set(
  `query_to_xml query_to_xmlschema query_to_xml_and_xmlschema table_to_xml table_to_xmlschema
   table_to_xml_and_xmlschema cursor_to_xml cursor_to_xmlschema schema_to_xml schema_to_xmlschema
   schema_to_xml_and_xmlschema database_to_xml database_to_xmlschema database_to_xml_and_xmlschema ts_stat
   lo_get loread pg_read_file pg_read_binary_file`
    .split(/\s+/)
    .filter(Boolean),
);

/**
 * For a function a view calls, resolved by Postgres to its schema (so no name can shadow a built-in): any
 * function outside pg_catalog, or a built-in that runs a query or reads stored data.
 */
function readsUnknownData(qualifiedName: string): boolean {
  const dot = qualifiedName.lastIndexOf(".");
  if (dot < 0 || qualifiedName.slice(0, dot) !== "pg_catalog") return true;
  // A view over the planner's statistics reads sample values of every column (the agent lists those relations
  // among a view's dependencies as pg_catalog names).
  const name = qualifiedName.slice(dot + 1);
  return DATA_READING_BUILTINS.has(name) || STATISTICS_RELATIONS.has(name);
}

/**
 * What a view (or materialized view) reads, through the views it reads in turn: base table columns and the
 * functions it calls. Postgres reports a view's own OID and column in RowDescription, so without this a view
 * over a masked column would show it raw.
 */
export interface TViewSources {
  /** "schema.table" and column. */
  columns: readonly { table: string; column: string }[];
  /** "schema.name" of the functions (and operators outside pg_catalog) it calls. */
  functions: readonly string[];
  /**
   * When known for every column of the view: the columns each carries unchanged (see TColumnPath), or null
   * (computed, a whole row). Then only the view's columns that carry masked data, or are computed while it
   * reads masked data, count as masked.
   */
  columnOrigins?: ReadonlyMap<string, TColumnPath | null>;
}

/**
 * The columns a view's column carries unchanged, outermost first: those of the views it passes through, then
 * the base table's. A rule on any of them masks it.
 */
export type TColumnPath = readonly { table: string; column: string }[];

/**
 * How a view column is masked by the rules along its path: named after the outermost column with a rule, with
 * that rule's strategy when every rule on the path agrees, else redact (a looser rule on a view's column does
 * not loosen its base column's).
 */
export function pathRule(
  masking: TCompiledMasking,
  path: TColumnPath,
): { strategy: TMaskingStrategy; table: string; column: string } | null {
  let hit: { strategy: TMaskingStrategy; table: string; column: string } | null = null;
  for (const { table, column } of path) {
    const rule = columnRuleFor(masking, table, column);
    if (!rule) continue;
    if (!hit) hit = { strategy: rule.strategy, table, column };
    else if (hit.strategy !== rule.strategy) hit.strategy = "redact";
  }
  return hit;
}
export type TViewSourcesLookup = (table: string) => TViewSources | undefined;

/**
 * How every column of a view is masked, or null when the view reads no masked column and calls no function
 * of unknown data flow. All of its columns, since which view column carries which base column is not known.
 */
export function viewMasking(
  masking: TCompiledMasking,
  sources: TViewSources,
): { strategy: TMaskingStrategy; sensitiveRefs: string[]; unknownFunctions: string[] } | null {
  if (masking.columnRules.length === 0) return null;
  const strategies = new Set<TMaskingStrategy>();
  const sensitiveRefs: string[] = [];
  for (const { table, column } of sources.columns) {
    const rule = columnRuleFor(masking, table, column);
    if (!rule) continue;
    strategies.add(rule.strategy);
    sensitiveRefs.push(`${splitTable(table).table}.${column}`);
  }
  const unknownFunctions = sources.functions.filter(readsUnknownData);
  if (sensitiveRefs.length === 0 && unknownFunctions.length === 0) return null;
  return { strategy: computedStrategy(strategies), sensitiveRefs, unknownFunctions };
}

/**
 * How a value computed from masked columns is masked: redacted (or NULL when every rule says NULL). A rule's
 * partial, hash or format-preserving form applied to a computed value would show what the query chose to put
 * where the form keeps characters (`'XXXXXXXXX' || substr(ssn, 1, 4)` keeps the first four digits under
 * partial), and keyed forms map the statement's own constants the same way, a codebook.
 */
function computedStrategy(strategies: Iterable<TMaskingStrategy>): TMaskingStrategy {
  const all = [...strategies];
  return all.length > 0 && all.every((s) => s === "null") ? "null" : "redact";
}

/**
 * How a reference to `column` of `table` is masked: the column's own rule, or, for a column of a view whose
 * column origins are known, the rule of the base column it carries (a computed one: the view's strategy when
 * the view reads masked data). Views without known origins are masked whole by the callers.
 */
function referenceStrategy(
  masking: TCompiledMasking,
  table: string,
  column: string,
  viewSources: TViewSourcesLookup | undefined,
): TMaskingStrategy | null {
  const rule = columnRuleFor(masking, table, column);
  if (rule) return rule.strategy;
  const sources = viewSources?.(table);
  const origins = sources?.columnOrigins;
  if (!sources || !origins || !origins.has(column)) return null;
  const path = origins.get(column);
  if (path) return pathRule(masking, path)?.strategy ?? null;
  return viewMasking(masking, sources)?.strategy ?? null;
}

/** A view whose every column's origin is known: its masked columns are told apart from the others. */
const hasColumnOrigins = (
  sources: TViewSources | undefined,
): sources is TViewSources & { columnOrigins: ReadonlyMap<string, TColumnPath | null> } =>
  sources?.columnOrigins !== undefined;

/** Whether any column of a table, or of a view with known column origins, is masked. */
function relationHasMasked(masking: TCompiledMasking, table: string, info: TSchemaInfo): boolean {
  if (tableHasRules(masking, table, info.columnsOf)) return true;
  const sources = info.viewSources?.(table);
  if (!hasColumnOrigins(sources)) return false;
  for (const column of sources.columnOrigins.keys())
    if (referenceStrategy(masking, table, column, info.viewSources) !== null) return true;
  return false;
}

/** How a statement's names resolve: its tables, and its aliases to the tables they stand for. */
interface TNameScope {
  tables: string[];
  aliases: Record<string, string | null>;
  resolve: (qualifier: string) => string[];
  /** Output column names of the aliases bound only to subqueries and WITH queries. */
  derived: Record<string, string[]>;
}

/**
 * Which references reach masked data: columns with a rule ("table.column" → its strategy), bare names that
 * are whole rows (`select c from customers c`), and stars, over tables with masked columns.
 */
function maskedReferences(
  refs: { columnRefs: TStatementAnalysis["columnRefs"]; starRefs: TStatementAnalysis["starRefs"] },
  masking: TCompiledMasking,
  { tables, aliases, resolve, derived }: TNameScope,
  info: TSchemaInfo,
): { columns: Map<string, TMaskingStrategy>; wholeRows: string[]; stars: (string | null)[] } {
  const columns = new Map<string, TMaskingStrategy>();
  const wholeRows: string[] = [];
  for (const ref of refs.columnRefs) {
    const candidates = ref.qualifier ? resolve(ref.qualifier) : tables;
    for (const table of candidates) {
      const strategy = referenceStrategy(masking, table, ref.column, info.viewSources);
      if (strategy) columns.set(`${splitTable(table).table}.${ref.column}`, strategy);
    }
    if (ref.qualifier) {
      // `t.row_to_json` is row_to_json(t), Postgres's function-style notation: a name that is not a column
      // of what t stands for reads the whole row. For an alias of a subquery or WITH query, its output names
      // are its columns; any other alias that is not one relation (a join's, one bound twice) may be any.
      if (derived[ref.qualifier]?.includes(ref.column)) continue;
      const isColumn = candidates.some((t) => info.columnsOf?.(t)?.includes(ref.column) ?? true);
      if (!isColumn && candidates.some((t) => relationHasMasked(masking, t, info)))
        wholeRows.push(`${ref.qualifier}.${ref.column}`);
      continue;
    }
    const whole =
      ref.column in aliases ? resolve(ref.column) : tables.filter((t) => splitTable(t).table === ref.column);
    if (whole.some((t) => relationHasMasked(masking, t, info))) wholeRows.push(ref.column);
  }
  const stars = refs.starRefs.filter((qualifier) =>
    (qualifier ? resolve(qualifier) : tables).some((t) => relationHasMasked(masking, t, info)),
  );
  return { columns, wholeRows, stars };
}

/**
 * What of the masked data a write would store (INSERT ... SELECT, UPDATE ... SET, CREATE TABLE AS ...): a
 * copy in another table, or another column, would be read back unmasked. Functions of unknown data flow
 * count too, as they could read anything.
 */
function storedMaskedData(
  stored: TStoredSources,
  masking: TCompiledMasking,
  scope: TNameScope,
  info: TSchemaInfo,
): string[] {
  const { viewSources, userFunctions } = info;
  const hits = maskedReferences(stored, masking, scope, info);
  const found = new Set<string>(hits.columns.keys());
  for (const name of hits.wholeRows) found.add(`whole rows of ${name}`);
  for (const qualifier of hits.stars) found.add(`${qualifier ? `${qualifier}.` : ""}* over masked columns`);
  for (const table of stored.tables) {
    const sources = viewSources?.(table);
    // A view whose columns' origins are known was judged by the columns stored, above.
    if (sources && !hasColumnOrigins(sources) && viewMasking(masking, sources))
      found.add(`${table} (a view over masked data)`);
    if (isStatisticsRelation(table)) found.add(table);
  }
  for (const fn of stored.functions)
    if (!knownFunction(fn, userFunctions)) found.add(`the result of ${fn}()`);
  return [...found];
}

/** pg_catalog and information_schema relations, by qualified name or by the reserved pg_ prefix. */
function isSystemRelation(name: string): boolean {
  const { schema, table } = splitTable(name.toLowerCase());
  if (schema !== null) return schema === "pg_catalog" || schema === "information_schema";
  return table.startsWith("pg_");
}

function isStatisticsRelation(name: string): boolean {
  const { schema, table } = splitTable(name.toLowerCase());
  return (schema === null || schema === "pg_catalog") && STATISTICS_RELATIONS.has(table);
}

/** Decides, once per statement (and cacheable with its analysis), how its results must be masked. */
export function statementMasking(
  s: TStatementAnalysis,
  masking: TCompiledMasking,
  info: TSchemaInfo = {},
): TStatementMasking {
  if (masking.columnRules.length === 0) {
    const base = s.copyTo ? copyOutMasking(s, masking) : UNTAINTED;
    // Without the catalog (read for sessions with column rules), any function may be the user's.
    return s.functions.length > 0 || runsCodeElsewhere(s) ? { ...base, runsUnknownCode: true } : base;
  }
  const { columnsOf: schema, viewSources, userFunctions, userOperators, userCastTypes } = info;
  const reasons: string[] = [];
  const refs = new Map<string, TMaskingStrategy>();
  // A WITH name may also be a relation read elsewhere in the statement: count the relation when it exists.
  const shadowed = (s.cteShadowed ?? []).filter(
    (name) => schema?.(name) !== undefined || viewSources?.(name) !== undefined,
  );
  const tables = [...new Set([...s.tablesRead, ...s.tablesWritten, ...shadowed])];
  const resolve = (qualifier: string): string[] => {
    if (qualifier in s.aliases) {
      const target = s.aliases[qualifier];
      // A CTE or subquery alias: its columns may come from any table in the statement.
      return target ? [target] : tables;
    }
    return [qualifier];
  };

  // A WITH name that is also a relation's may stand for that relation: its output names exempt nothing.
  const derived = Object.fromEntries(
    Object.entries(s.derivedColumns ?? {}).filter(([name]) => !shadowed.includes(name)),
  );
  const scope: TNameScope = { tables, aliases: s.aliases, resolve, derived };
  const hits = maskedReferences(s, masking, scope, info);
  for (const [ref, strategy] of hits.columns) refs.set(ref, strategy);
  for (const name of hits.wholeRows) reasons.push(`whole-row reference to ${name}`);
  for (const qualifier of hits.stars)
    reasons.push(`${qualifier ? `${qualifier}.` : ""}* over a table with masked columns`);
  for (const table of tables) {
    const sources = viewSources?.(table);
    // A view whose columns' origins are known counts by the columns referenced, as a table does (above).
    const view = sources && !hasColumnOrigins(sources) ? viewMasking(masking, sources) : null;
    if (!view) continue;
    for (const ref of view.sensitiveRefs) refs.set(ref, view.strategy);
    reasons.push(
      view.unknownFunctions.length > 0
        ? `reads ${table}, a view that calls ${view.unknownFunctions.join(", ")}`
        : `reads ${table}, a view over ${view.sensitiveRefs.join(", ")}`,
    );
  }
  // A relation the schema does not list (made since the agent last read it, or a temporary table): what it
  // holds and reads is not known.
  if (schema)
    for (const table of tables)
      if (schema(table) === undefined && !isSystemRelation(table))
        reasons.push(`reads ${table}, which is not in the schema the agent read`);
  const statistics = tables.filter(isStatisticsRelation);
  if (statistics.length > 0)
    reasons.push(`reads ${statistics.join(", ")}, which keep sample values of every column`);
  if (refs.size > 0) reasons.push(`references ${[...refs.keys()].join(", ")}`);
  const readsMasked = reasons.length > 0;

  const unknownFunctions = s.functions.filter((f) => !knownFunction(f, userFunctions));
  // An operator runs its function: one the database defines (`#%#`, or `=` for a type of its own) is unknown code.
  const unknownOperators = (s.operators ?? []).filter((op) =>
    op.includes(".")
      ? op.slice(0, op.lastIndexOf(".")).toLowerCase() !== "pg_catalog"
      : (userOperators?.has(op) ?? false),
  );
  // A cast runs its function where a value is converted, written or not: through a type the statement names,
  // or a relation whose row type or columns are of such a type.
  // "*": a cast between built-in types, which any conversion may run.
  const castTypes = !userCastTypes
    ? []
    : userCastTypes.has("*")
      ? ["built-in types (a cast between them is defined in the database)"]
      : [...(s.types ?? []), ...tables.map((t) => splitTable(t).table)].filter(
          (t) => userCastTypes.has(t) || userCastTypes.has(t.toLowerCase()),
        );
  // A view that calls a function outside pg_catalog runs it for every statement that reads the view.
  const viewsRunCode = tables.some((t) => viewSources?.(t)?.functions.some(readsUnknownData) ?? false);
  /** Whether the statement runs code the analysis cannot follow, counting these of its functions. */
  const runsCodeWith = (functions: readonly string[]) =>
    functions.length > 0 ||
    unknownOperators.length > 0 ||
    castTypes.length > 0 ||
    runsCodeElsewhere(s) ||
    viewsRunCode;
  if (unknownFunctions.length > 0)
    reasons.push(`calls ${unknownFunctions.join(", ")}, whose data flow is not known`);
  if (unknownOperators.length > 0)
    reasons.push(`uses operator ${unknownOperators.join(", ")}, whose function is not known`);
  if (castTypes.length > 0)
    reasons.push(
      `converts values of ${[...new Set(castTypes)].join(", ")}, which a cast defined in the database may run code for`,
    );
  const opaque = [s.command, ...s.nestedCommands].filter((c) => OPAQUE_COMMANDS.has(c));
  if (opaque.length > 0) reasons.push(`${opaque.join(", ")} runs a statement defined elsewhere`);

  let block: TStatementMasking["block"] = null;
  const exported = s.copyTo ? copyExportsMasked(s.copyOut, reasons, masking, info) : [];
  if (exported.length > 0) {
    block = {
      ruleName: "Masked columns cannot be exported with COPY",
      message: `COPY ... TO would export masked columns unmasked (${exported.join("; ")}); COPY cannot mask, use SELECT, which does`,
    };
  } else if (s.copyTo) {
    block = copyOutMasking(s, masking).block;
  }
  const stored = s.stored ? storedMaskedData(s.stored, masking, scope, info) : [];
  // What such a cast returns is stored as it is: an assignment cast runs with no cast written.
  if (s.stored && castTypes.length > 0)
    stored.push(`values a cast defined in the database converts (${[...new Set(castTypes)].join(", ")})`);
  if (stored.length > 0) {
    block = {
      ruleName: "Masked data cannot be copied into tables",
      message: `this statement would store ${stored.join(", ")} where masking no longer applies; store unmasked columns only, or ask for an exemption`,
    };
  }
  // Rules match by name: a masked column renamed, a relation moved or renamed, a column derived or retyped from
  // others, a partition detached would read raw afterwards.
  const reshaped = (s.reshapes ?? []).filter(({ relation, column }) =>
    column === null
      ? relationHasMasked(masking, relation, info)
      : columnRuleFor(masking, relation, column) !== null,
  );
  // A foreign table (postgres_fdw looping back to this database) reads a masked table under another name.
  const foreign = [s.command, ...s.nestedCommands].filter((c) => FOREIGN_DATA_COMMANDS.has(c));
  if (foreign.length > 0) {
    block = {
      ruleName: "Masked data cannot be renamed or re-derived",
      message: `${foreign.join(", ")} could read masked tables under other names, where masking rules (which match by name) do not apply; ask an identity without masking to make it`,
    };
  }
  if (reshaped.length > 0) {
    block = {
      ruleName: "Masked data cannot be renamed or re-derived",
      message: `this schema change would move masked data out of its rules' reach (${reshaped
        .map(({ relation, column }) => (column ? `${relation}.${column}` : relation))
        .join(", ")}): masking rules match by name; ask an identity without masking to make it`,
    };
  }
  const sideChannel = [...new Set(s.functions.map(baseName).filter(isSideChannel))];
  // Refused where what the statement could pass on may be masked data: it reads some, or runs code that may
  // (the side channel's own function aside).
  const runsOtherCode = runsCodeWith(unknownFunctions.filter((f) => !isSideChannel(baseName(f))));
  if (sideChannel.length > 0 && (readsMasked || runsOtherCode)) {
    block = {
      ruleName: "Masked data cannot leave through side channels",
      message: `${sideChannel.join(", ")} would carry masked data outside the result; not allowed in a statement that reads masked columns`,
    };
  }
  const strategies = [...new Set(refs.values())];
  return {
    tainted: reasons.length > 0,
    ...(runsCodeWith(unknownFunctions) ? { runsUnknownCode: true } : {}),
    reasons,
    sensitiveRefs: [...refs.keys()],
    computedStrategy: computedStrategy(strategies),
    block,
  };
}

/**
 * Why a COPY ... TO would export masked data; empty when it would not. COPY rows carry no column origins to mask
 * by, so what it exports must be plain from the statement: a query that reaches nothing masked (judged as a
 * SELECT's computed columns are: `reasons`), or the columns listed for a table, none with a rule. A table
 * without a list exports every column.
 */
function copyExportsMasked(
  out: TStatementAnalysis["copyOut"],
  reasons: readonly string[],
  masking: TCompiledMasking,
  info: TSchemaInfo,
): string[] {
  if (reasons.length > 0) return [...reasons];
  const relation = out?.relation;
  if (!relation) return [];
  if (!out.columns)
    return relationHasMasked(masking, relation, info) ? [`${relation} has masked columns`] : [];
  return out.columns
    .filter((column) => columnRuleFor(masking, relation, column) !== null)
    .map((column) => `${relation}.${column}`);
}

/** COPY ... TO output the agent can run the content detectors over: text or CSV rows, in UTF-8, to the client. */
function copyOutScannable(copyOut: TStatementAnalysis["copyOut"]): boolean {
  if (!copyOut || !copyOut.toClient || copyOut.format === "binary") return false;
  return copyOut.encoding === null || isUtf8EncodingName(copyOut.encoding);
}

const COPY_NOT_SCANNABLE: TStatementMasking = {
  ...UNTAINTED,
  block: {
    ruleName: "COPY output must pass the content detectors",
    message:
      "COPY ... TO in binary format, in another ENCODING or to a server file or program cannot be scanned by the content detectors; use COPY ... TO STDOUT in text or CSV format, or SELECT",
  },
};

/**
 * A COPY ... TO of nothing a column rule masks. The agent runs the content detectors over its text and CSV rows
 * as over result cells; rows it cannot read (binary, another encoding) or never sees (a file or program on the
 * server) would skip them, so with detector rules those are refused.
 */
function copyOutMasking(s: TStatementAnalysis, masking: TCompiledMasking): TStatementMasking {
  return masking.detectorRules.length > 0 && !copyOutScannable(s.copyOut) ? COPY_NOT_SCANNABLE : UNTAINTED;
}

// ---- values ---------------------------------------------------------------------------------------------

const REDACTED = "********";

// HMAC-SHA256 (RFC 2104) from two one-shot hashes. It runs once per masked cell, and createHmac builds a
// stateful object per call that costs several times the hashing itself. The key's pads are derived once;
// the hash input is written into a buffer of exactly its length kept per length, because a Buffer
// subarray (or a "buffer" digest) costs more than the hash of a short value (measured in the commit).
const HMAC_BLOCK = 64;
const hmacPads = new WeakMap<Buffer, { inner: Buffer; outer: Buffer }>();
const hmacInputs = new Map<number, Buffer>();
const HMAC_REUSED_INPUT_MAX = 4096;

/** HMAC-SHA256 of the UTF-8 bytes of `value`, as lowercase hex. */
export function hmacSha256Hex(key: Buffer, value: string): string {
  let pads = hmacPads.get(key);
  if (!pads) {
    const k = key.length > HMAC_BLOCK ? Buffer.from(hash("sha256", key, "hex"), "hex") : key;
    const inner = Buffer.alloc(HMAC_BLOCK, 0x36);
    // opad, then room for the inner digest: the outer hash's whole input.
    const outer = Buffer.alloc(HMAC_BLOCK + 32, 0x5c);
    for (let i = 0; i < k.length; i++) {
      inner[i]! ^= k[i]!;
      outer[i]! ^= k[i]!;
    }
    pads = { inner, outer };
    hmacPads.set(key, pads);
  }
  const length = HMAC_BLOCK + Buffer.byteLength(value, "utf8");
  let input = hmacInputs.get(length);
  if (!input) {
    input = Buffer.allocUnsafe(length);
    if (length <= HMAC_REUSED_INPUT_MAX) {
      if (hmacInputs.size >= 256) hmacInputs.clear();
      hmacInputs.set(length, input);
    }
  }
  pads.inner.copy(input, 0);
  input.write(value, HMAC_BLOCK, "utf8");
  pads.outer.write(hash("sha256", input, "hex"), HMAC_BLOCK, "hex");
  return hash("sha256", pads.outer, "hex");
}

function keystream(key: Buffer, value: string, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; blocks.length * 32 < length; i++)
    blocks.push(Buffer.from(hmacSha256Hex(key, `${i}:${value}`), "hex"));
  return Buffer.concat(blocks);
}

const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;

function isLetterOrDigit(codePoint: number): boolean {
  if (codePoint < 128) {
    const lower = codePoint | 0x20;
    return (codePoint >= 48 && codePoint <= 57) || (lower >= 97 && lower <= 122);
  }
  return LETTER_OR_DIGIT.test(String.fromCodePoint(codePoint));
}

/**
 * Keeps the last four letters/digits and the layout (separators), hides the rest; emails keep their domain.
 * Walks code points, so a letter outside the Basic Multilingual Plane (rarer CJK, say) is one letter, masked.
 */
function partial(value: string): string {
  const at = value.indexOf("@");
  if (at > 0 && value.indexOf("@", at + 1) < 0)
    return `${String.fromCodePoint(value.codePointAt(0)!)}***${value.slice(at)}`;
  let alnum = 0;
  for (let i = 0; i < value.length;) {
    const cp = value.codePointAt(i)!;
    if (isLetterOrDigit(cp)) alnum += 1;
    i += cp > 0xffff ? 2 : 1;
  }
  let hide = alnum > 8 ? alnum - 4 : alnum;
  let out = "";
  for (let i = 0; i < value.length;) {
    const cp = value.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (hide > 0 && isLetterOrDigit(cp)) {
      out += "*";
      hide -= 1;
    } else out += width === 1 ? value[i]! : value.slice(i, i + 2);
    i += width;
  }
  return out;
}

/** Same shape (digits stay digits, letters letters, separators kept), different, deterministic per key. */
function formatPreserving(value: string, key: Buffer): string {
  const stream = keystream(key, value, value.length);
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    const r = stream[i]!;
    if (ch >= "0" && ch <= "9") out += String.fromCharCode(48 + ((ch.charCodeAt(0) - 48 + 1 + (r % 9)) % 10));
    else if (ch >= "a" && ch <= "z")
      out += String.fromCharCode(97 + ((ch.charCodeAt(0) - 97 + 1 + (r % 25)) % 26));
    else if (ch >= "A" && ch <= "Z")
      out += String.fromCharCode(65 + ((ch.charCodeAt(0) - 65 + 1 + (r % 25)) % 26));
    else out += ch;
  }
  return out;
}

/** The masked form of a text value; null means the client receives SQL NULL. */
export function maskText(strategy: TMaskingStrategy, value: string, key: Buffer): string | null {
  switch (strategy) {
    case "null":
      return null;
    case "redact":
      return REDACTED;
    case "partial":
      return partial(value);
    case "hash":
      // Keyed per deployment, so equal values stay joinable without being guessable from a hash table.
      return `hash:${hmacSha256Hex(key, value).slice(0, 16)}`;
    case "format_preserving":
      return formatPreserving(value, key);
  }
}
