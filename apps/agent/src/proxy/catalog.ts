// What the agent knows of each upstream database's schema: table OID + attribute number → table and column
// names (RowDescription identifies direct column references that way, through aliases, subqueries and
// CTEs), and table → columns (to expand `*` when deciding masking). Read on a connection of the agent's own.
import type { TColumnPath, TSchemaInfo, TViewSources } from "@portcullis/policy";
import type { Logger } from "pino";
import { connectUpstream, type TUpstreamTarget } from "./upstream.ts";
import { viewColumnOrigins } from "./view-lineage.ts";
import { BodyReader, FrameReader, parseErrorFields, queryMessage, terminateMessage } from "./wire.ts";

// One result, four kinds of rows: 'c' a column of a table or view (oid, schema, table, attnum, column, type (none
// for a domain, whose values are its base type's), whether generated); 'd'
// something a view's query depends on (view oid, relation oid and attnum, 0 for a whole row; or a function,
// or an operator outside pg_catalog, as "schema.name"); 'f' the name of a function defined outside
// pg_catalog (extensions' aside), which a built-in's bare name may resolve to; 'q' a view's stored query
// (view oid, relkind: v or m, its pg_node_tree text), which tells which column each of its columns carries; 'o'
// the symbol of an operator defined outside pg_catalog (extensions' aside), whose function the analysis cannot see;
// 'k' the name of a type a cast with such a function converts from or to (its own types, or both when it casts
// between built-ins), or of a domain, array or composite type (a table's row type) over one; 'i' a partition or
// inheritance child (oid) and its parent (ref).
/** A view's function defined in pg_catalog by a superuser (not one of Postgres's own, whose OIDs are lower). */
const USER_DEFINED_IN_PG_CATALOG = "pg_catalog (user-defined)";

const CATALOG_SQL = `with recursive cast_types(oid) as (
  select e.oid from pg_cast k join pg_proc p on p.oid = k.castfunc
  join pg_namespace pn on pn.oid = p.pronamespace
  cross join lateral (values (k.castsource), (k.casttarget)) e(oid)
  join pg_type et on et.oid = e.oid
  where (pn.nspname not in ('pg_catalog', 'information_schema') or p.oid >= 16384)
    and not exists (select 1 from pg_depend xd join pg_extension x on xd.refclassid = 'pg_extension'::regclass and x.oid = xd.refobjid
      join pg_roles xr on xr.oid = x.extowner and xr.rolsuper
      where xd.classid = 'pg_proc'::regclass and xd.objid = p.oid and xd.deptype = 'e')
    and (et.typnamespace <> 'pg_catalog'::regnamespace or not exists (select 1 from pg_type o
      where o.oid in (k.castsource, k.casttarget) and o.typnamespace <> 'pg_catalog'::regnamespace))
  union
  select t.oid from pg_type t join cast_types c on t.typbasetype = c.oid or t.typelem = c.oid
    or (t.typrelid <> 0 and exists (select 1 from pg_attribute a
      where a.attrelid = t.typrelid and a.atttypid = c.oid and a.attnum > 0 and not a.attisdropped))
)
select 'c' as kind, c.oid::int8 as oid, n.nspname::text as a, c.relname::text as b,
  a.attnum::int8 as num, a.attname::text as c,
  case when t.typtype = 'd' then null else a.atttypid::int8 end as ref, a.attgenerated::text as g
from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
join pg_type t on t.oid = a.atttypid
where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
  and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
union all
select 'd', r.ev_class::int8, '',
  coalesce(case when p.oid >= 16384 and pn.nspname = 'pg_catalog' then '${USER_DEFINED_IN_PG_CATALOG}.' || p.proname
    else pn.nspname || '.' || p.proname end, onsp.nspname || '.' || o.oprname, 'pg_catalog.' || sr.relname, ''),
  d.refobjsubid::int8, '', case when d.refclassid = 'pg_class'::regclass and sr.oid is null then d.refobjid::int8 end, ''
from pg_rewrite r
join pg_class v on v.oid = r.ev_class and v.relkind in ('v', 'm')
join pg_namespace vn on vn.oid = v.relnamespace and vn.nspname not in ('pg_catalog', 'information_schema')
join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid and d.deptype = 'n'
  and d.refobjid <> r.ev_class
left join pg_proc p on d.refclassid = 'pg_proc'::regclass and p.oid = d.refobjid
left join pg_namespace pn on pn.oid = p.pronamespace
left join pg_operator o on d.refclassid = 'pg_operator'::regclass and o.oid = d.refobjid
  and o.oprnamespace <> 'pg_catalog'::regnamespace
left join pg_namespace onsp on onsp.oid = o.oprnamespace
left join pg_class sr on d.refclassid = 'pg_class'::regclass and sr.oid = d.refobjid
  and sr.relnamespace = 'pg_catalog'::regnamespace
  and sr.relname in ('pg_statistic', 'pg_stats', 'pg_stats_ext', 'pg_stats_ext_exprs', 'pg_statistic_ext_data')
where d.refclassid in ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_operator'::regclass)
union all
select 'q', r.ev_class::int8, v.relkind::text, r.ev_action::text, 0, '', null::int8, ''
from pg_rewrite r
join pg_class v on v.oid = r.ev_class and v.relkind in ('v', 'm') and r.rulename = '_RETURN'
join pg_namespace vn on vn.oid = v.relnamespace and vn.nspname not in ('pg_catalog', 'information_schema')
union all
select distinct 'f', 0, '', f.name, 0, '', null::int8, ''
from pg_proc p join pg_namespace n on n.oid = p.pronamespace
cross join lateral (values (lower(p.proname)), (case when n.nspname = 'pg_catalog' then 'pg_catalog.' || lower(p.proname) end)) f(name)
where (n.nspname not in ('pg_catalog', 'information_schema') or p.oid >= 16384) and f.name is not null
  and not exists (select 1 from pg_depend e join pg_extension x on e.refclassid = 'pg_extension'::regclass and x.oid = e.refobjid
      join pg_roles xr on xr.oid = x.extowner and xr.rolsuper
      where e.classid = 'pg_proc'::regclass and e.objid = p.oid and e.deptype = 'e')
union all
select distinct 'o', 0, '', o.oprname::text, 0, '', null::int8, ''
from pg_operator o join pg_namespace n on n.oid = o.oprnamespace
where (n.nspname not in ('pg_catalog', 'information_schema') or o.oid >= 16384)
  and not exists (select 1 from pg_depend e join pg_extension x on e.refclassid = 'pg_extension'::regclass and x.oid = e.refobjid
      join pg_roles xr on xr.oid = x.extowner and xr.rolsuper
      where e.classid = 'pg_operator'::regclass and e.objid = o.oid and e.deptype = 'e')
union all
select 'i', i.inhrelid::int8, '', '', 0, '', i.inhparent::int8, ''
from pg_inherits i join pg_class c on c.oid = i.inhrelid and c.relkind in ('r', 'p', 'f')
union all
select distinct 'k', 0, '', t.typname::text, 0, '', null::int8, ''
from cast_types c join pg_type t on t.oid = c.oid
union all
select distinct 'k', 0, '', '*', 0, '', null::int8, ''
from pg_cast k join pg_proc p on p.oid = k.castfunc
join pg_type s on s.oid = k.castsource and s.typnamespace = 'pg_catalog'::regnamespace
join pg_type t on t.oid = k.casttarget and t.typnamespace = 'pg_catalog'::regnamespace
where p.oid >= 16384 or k.oid >= 16384
order by 1, 2, 5`;

/**
 * In the functions of a materialized view that read a (non-materialized) view: what it holds is not known to
 * match what that view reads now, so it is masked as a view calling unknown code is (a name without a schema).
 */
const REFRESHED_FROM_A_VIEW = "(a view as it was when the materialized view was refreshed)";

/** How long a catalog is trusted before it is read again (DDL through the agent refreshes it at once). */
const CATALOG_TTL_MS = 30_000;

export interface TCatalog extends TSchemaInfo {
  origin(tableOid: number, attnum: number): { table: string; column: string } | undefined;
  columnsOf(table: string): readonly string[] | undefined;
  /** A relation's column names → type OIDs, when the name stands for one relation. */
  columnTypes(table: string): ReadonlyMap<string, number> | undefined;
  /** The columns `COPY table TO` writes (all but generated ones, in order), when the name stands for one relation. */
  copyColumnsOf(table: string): readonly string[] | undefined;
  /** What a view reads (through other views); undefined for anything that is not a view. */
  viewSources(table: string): TViewSources | undefined;
  /**
   * The columns a view's column carries unchanged, outermost first: the columns of the views it passes
   * through, then the base table's (a rule on any of them masks it). Null when computed, a whole row, or not
   * known. Only a view's own columns; a table's are their own origin.
   */
  viewColumnPath(viewOid: number, attnum: number): TColumnPath | null;
  /** Set while DDL on the connection may not be in this catalog yet: a relation it does not know is masked. */
  readonly inDoubt?: boolean;
  userFunctions: ReadonlySet<string>;
  userOperators: ReadonlySet<string>;
  userCastTypes: ReadonlySet<string>;
  /** Each partition or inheritance parent or child ("schema.table") → its ancestors and descendants. */
  relatives: ReadonlyMap<string, readonly string[]>;
}

interface TTableEntry {
  schema: string;
  table: string;
  columns: Map<number, string>;
  /** Column name → type OID. */
  types: Map<string, number>;
  /** Generated columns, which COPY TO leaves out. */
  generated: Set<string>;
}

interface TViewDependencies {
  relations: { oid: number; attnum: number }[];
  functions: string[];
}

export function buildCatalog(rows: string[][]): TCatalog {
  const byOid = new Map<number, TTableEntry>();
  const byName = new Map<string, string[]>();
  const dependencies = new Map<number, TViewDependencies>();
  const userFunctions = new Set<string>();
  const userOperators = new Set<string>();
  const userCastTypes = new Set<string>();
  const parents = new Map<number, number[]>();
  const storedQueries = new Map<number, { text: string; materialized: boolean }>();
  for (const [kind, oidText, a, b, numText, c, refText, generatedText] of rows) {
    const oid = Number(oidText);
    if (kind === "q") {
      storedQueries.set(oid, { text: b!, materialized: a === "m" });
      continue;
    }
    if (kind === "f") {
      if (b) userFunctions.add(b);
      continue;
    }
    if (kind === "o") {
      if (b) userOperators.add(b);
      continue;
    }
    if (kind === "i") {
      parents.set(oid, [...(parents.get(oid) ?? []), Number(refText)]);
      continue;
    }
    if (kind === "k") {
      if (b) userCastTypes.add(b);
      continue;
    }
    if (kind === "d") {
      let deps = dependencies.get(oid);
      if (!deps) dependencies.set(oid, (deps = { relations: [], functions: [] }));
      if (refText) deps.relations.push({ oid: Number(refText), attnum: Number(numText) });
      else if (b) deps.functions.push(b);
      continue;
    }
    let entry = byOid.get(oid);
    if (!entry) {
      entry = { schema: a!, table: b!, columns: new Map(), types: new Map(), generated: new Set() };
      byOid.set(oid, entry);
    }
    entry.columns.set(Number(numText), c!);
    if (refText) entry.types.set(c!, Number(refText));
    if (generatedText) entry.generated.add(c!);
  }
  const oidsByName = new Map<string, number[]>();
  for (const [oid, entry] of byOid) {
    const columns = [...entry.columns.values()];
    byName.set(`${entry.schema}.${entry.table}`, columns);
    oidsByName.set(`${entry.schema}.${entry.table}`, [oid]);
    // Unqualified names mean the table on the search path; public is the common case, and when two schemas
    // have the same table name the union of their columns is the conservative answer.
    const bare = byName.get(entry.table);
    byName.set(entry.table, bare ? [...new Set([...bare, ...columns])] : columns);
    oidsByName.set(entry.table, [...(oidsByName.get(entry.table) ?? []), oid]);
  }

  // Each view's column origins, read from its stored query when first asked for (most views never are).
  const originsByView = new Map<number, ReturnType<typeof viewColumnOrigins>>();
  const originsOf = (viewOid: number) => {
    let origins = originsByView.get(viewOid);
    if (origins === undefined) {
      const stored = storedQueries.get(viewOid);
      origins = stored === undefined ? null : viewColumnOrigins(stored.text);
      originsByView.set(viewOid, origins);
    }
    return origins;
  };
  const columnPath = (relationOid: number, attnum: number, seen: Set<number>): TColumnPath | null => {
    if (seen.has(relationOid)) return null;
    seen.add(relationOid);
    const origin = originsOf(relationOid)?.get(attnum);
    if (!origin) return null;
    const entry = byOid.get(origin.tableOid);
    const column = entry?.columns.get(origin.attnum);
    if (!entry || !column) return null;
    const hop = { table: `${entry.schema}.${entry.table}`, column };
    const inner = storedQueries.get(origin.tableOid);
    if (!inner) return [hop]; // a base table
    // A materialized view holds what a view gave at its last refresh; the view may have been redefined since.
    if (storedQueries.get(relationOid)!.materialized && !inner.materialized) return null;
    const rest = columnPath(origin.tableOid, origin.attnum, seen);
    return rest && [hop, ...rest];
  };

  // A view's sources, through the views it reads (each view once, so a cycle cannot loop).
  const sourcesByOid = new Map<number, TViewSources>();
  const sourcesOf = (viewOid: number): TViewSources => {
    const known = sourcesByOid.get(viewOid);
    if (known) return known;
    const columns = new Map<string, { table: string; column: string }>();
    const functions = new Set<string>();
    const result = { columns: [] as { table: string; column: string }[], functions: [] as string[] };
    sourcesByOid.set(viewOid, result);
    const materialized = storedQueries.get(viewOid)?.materialized ?? false;
    for (const relation of dependencies.get(viewOid)?.relations ?? []) {
      const entry = byOid.get(relation.oid);
      if (entry) {
        // The columns it reads, of a table or of a view (a rule may name a view's column).
        const table = `${entry.schema}.${entry.table}`;
        // attnum 0: the whole row.
        const names =
          relation.attnum === 0 ? [...entry.columns.values()] : [entry.columns.get(relation.attnum)];
        for (const column of names) if (column) columns.set(`${table}|${column}`, { table, column });
      }
      if (dependencies.has(relation.oid)) {
        const inner = sourcesOf(relation.oid);
        for (const col of inner.columns) columns.set(`${col.table}|${col.column}`, col);
        for (const fn of inner.functions) functions.add(fn);
        // What it stored came from the view as it was at the last refresh, which may not be as it is now.
        if (materialized && !storedQueries.get(relation.oid)?.materialized)
          functions.add(REFRESHED_FROM_A_VIEW);
      }
    }
    for (const fn of dependencies.get(viewOid)?.functions ?? []) functions.add(fn);
    result.columns = [...columns.values()];
    result.functions = [...functions];
    // Which base column each of its columns carries, when its stored query could be read.
    const own = byOid.get(viewOid);
    if (own && storedQueries.has(viewOid) && originsOf(viewOid) !== null) {
      const columnOrigins = new Map<string, TColumnPath | null>();
      for (const [attnum, name] of own.columns)
        columnOrigins.set(name, columnPath(viewOid, attnum, new Set()));
      return Object.assign(result, { columnOrigins });
    }
    return result;
  };

  // Every ancestor of each child (through multi-level and multiple inheritance), and it among each one's
  // descendants.
  const relatives = new Map<string, string[]>();
  const nameOf = (oid: number) => {
    const entry = byOid.get(oid);
    return entry && `${entry.schema}.${entry.table}`;
  };
  for (const child of parents.keys()) {
    const childName = nameOf(child);
    const seen = new Set<number>([child]);
    const queue = [...parents.get(child)!];
    while (queue.length > 0) {
      const ancestor = queue.pop()!;
      if (seen.has(ancestor)) continue;
      seen.add(ancestor);
      queue.push(...(parents.get(ancestor) ?? []));
      const ancestorName = nameOf(ancestor);
      if (!childName || !ancestorName) continue;
      relatives.set(childName, [...(relatives.get(childName) ?? []), ancestorName]);
      relatives.set(ancestorName, [...(relatives.get(ancestorName) ?? []), childName]);
    }
  }

  const onlyRelation = (table: string) => {
    const oids = oidsByName.get(table) ?? oidsByName.get(table.toLowerCase());
    return oids?.length === 1 ? byOid.get(oids[0]!) : undefined;
  };

  return {
    viewColumnPath: (viewOid, attnum) =>
      storedQueries.has(viewOid) ? columnPath(viewOid, attnum, new Set()) : null,
    origin(tableOid, attnum) {
      const entry = byOid.get(tableOid);
      const column = entry?.columns.get(attnum);
      return entry && column ? { table: `${entry.schema}.${entry.table}`, column } : undefined;
    },
    // Names as the statement folded them (a quoted "Report" is not report): the exact name first.
    columnsOf: (table) => byName.get(table) ?? byName.get(table.toLowerCase()),
    columnTypes: (table) => onlyRelation(table)?.types,
    copyColumnsOf(table) {
      const entry = onlyRelation(table);
      return entry && [...entry.columns.values()].filter((c) => !entry.generated.has(c));
    },
    userFunctions,
    userOperators,
    userCastTypes,
    relatives,
    viewSources(table) {
      const oids = (oidsByName.get(table) ?? oidsByName.get(table.toLowerCase()) ?? []).filter((oid) =>
        dependencies.has(oid),
      );
      if (oids.length === 0) return undefined;
      if (oids.length === 1) return sourcesOf(oids[0]!);
      // Same view name in several schemas: what any of them reads.
      return {
        columns: oids.flatMap((oid) => sourcesOf(oid).columns),
        functions: oids.flatMap((oid) => sourcesOf(oid).functions),
      };
    },
  };
}

/** Runs one simple query on a fresh upstream connection and returns its text rows (NULL as ""). */
async function readRows(target: TUpstreamTarget, sql: string): Promise<string[][]> {
  const rows = await queryUpstream(target, sql, "portcullis-agent (catalog)");
  return rows.map((row) => row.map((cell) => cell ?? ""));
}

/**
 * Runs one simple query (one statement) on a fresh upstream connection of the agent's own and returns its
 * rows as text, NULL as null. Rejects with the server's message when the query fails.
 */
export async function queryUpstream(
  target: TUpstreamTarget,
  sql: string,
  applicationName: string,
): Promise<(string | null)[][]> {
  const upstream = await connectUpstream(target, { application_name: applicationName });
  const socket = upstream.socket;
  const reader = new FrameReader(256 * 1024 * 1024);
  return new Promise((resolve, reject) => {
    const rows: (string | null)[][] = [];
    let error: string | null = null;
    const onData = (chunk: Buffer) => {
      try {
        for (const frame of reader.push(chunk)) {
          if (frame.type === 0x44 /* D */) {
            const r = new BodyReader(frame.raw, frame.bodyStart);
            const count = r.int16();
            const row: (string | null)[] = [];
            for (let i = 0; i < count; i++) {
              const len = r.int32();
              row.push(len < 0 ? null : r.bytes(len).toString("utf8"));
            }
            rows.push(row);
          } else if (frame.type === 0x45 /* E */) error = parseErrorFields(frame).get("M") ?? "query failed";
          else if (frame.type === 0x5a /* Z */) {
            socket.end(terminateMessage());
            if (error) reject(new Error(error));
            else resolve(rows);
          }
        }
      } catch (e) {
        socket.destroy();
        reject(e as Error);
      }
    };
    socket.on("data", onData);
    socket.on("error", reject);
    for (const chunk of upstream.leftover) onData(chunk);
    socket.write(queryMessage(sql));
  });
}

export class SchemaCatalogs {
  /** Numbers reads and invalidations in the order they happen. */
  private seq = 0;
  private readonly catalogs = new Map<string, { catalog: TCatalog; readAt: number; seq: number }>();
  private readonly loading = new Map<string, { promise: Promise<void>; seq: number }>();
  private readonly invalidated = new Map<string, number>();

  constructor(private readonly logger?: Logger) {}

  /** The catalog of a connection if read, else undefined (callers then treat origins as unknown). */
  get(connectionId: string): TCatalog | undefined {
    return this.catalogs.get(connectionId)?.catalog;
  }

  /** Whether the catalog held now was read after `seq` (an invalidate()'s number) was given. */
  readAfter(connectionId: string, seq: number): boolean {
    return (this.catalogs.get(connectionId)?.seq ?? 0) > seq;
  }

  /**
   * Reads the catalog if it is missing, stale, or older than the last invalidate(); resolves when it is fresh
   * (or the read failed). A read already under way is reused only if it began after that invalidate().
   */
  ensure(connectionId: string, target: TUpstreamTarget, now = Date.now()): Promise<void> {
    const invalidated = this.invalidated.get(connectionId) ?? 0;
    const current = this.catalogs.get(connectionId);
    if (current && current.seq > invalidated && now - current.readAt < CATALOG_TTL_MS)
      return Promise.resolve();
    const pending = this.loading.get(connectionId);
    if (pending && pending.seq > invalidated) return pending.promise;
    const seq = ++this.seq;
    const promise = readRows(target, CATALOG_SQL)
      .then((rows) => {
        // Reads may finish out of order: the one begun last wins.
        if ((this.catalogs.get(connectionId)?.seq ?? 0) < seq)
          this.catalogs.set(connectionId, { catalog: buildCatalog(rows), readAt: Date.now(), seq });
      })
      .catch((error: Error) =>
        this.logger?.warn(
          { connectionId, err: error.message },
          "could not read the schema catalog; masking treats origins as unknown",
        ),
      )
      .finally(() => {
        if (this.loading.get(connectionId)?.promise === promise) this.loading.delete(connectionId);
      });
    this.loading.set(connectionId, { promise, seq });
    return promise;
  }

  /**
   * The schema may have changed (DDL committed): what was read before, or is being read now, is stale. Returns
   * a number for readAfter().
   */
  invalidate(connectionId: string): number {
    const seq = ++this.seq;
    this.invalidated.set(connectionId, seq);
    return seq;
  }
}
