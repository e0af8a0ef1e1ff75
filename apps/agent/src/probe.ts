// Onboarding asks the agent, which sits next to the database, to connect to it as a new connection would
// and to look for sensitive data. Discovery runs here: sampled values never leave the agent, only which
// columns look sensitive, how sure the engine is, and the masking it suggests.
import type { TProbeResult } from "@portcullis/agent-protocol";
import { classifyColumns, type TTableSample } from "@portcullis/policy";
import { queryUpstream } from "./proxy/catalog.ts";
import type { TUpstreamTarget } from "./proxy/upstream.ts";

const APPLICATION = "portcullis-agent (onboarding)";
/** Enough values for discovery's majority rule; few enough to keep the scan light on a production database. */
const SAMPLE_ROWS = 20;
const MAX_TABLES = 100;

const TABLES_SQL = `select n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_attribute a on a.attrelid = c.oid
where c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
  and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
  and has_table_privilege(c.oid, 'select')
order by 1, 2, a.attnum`;

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

export async function probeDatabase(target: TUpstreamTarget, scan: boolean): Promise<TProbeResult> {
  const failed = (error: unknown): TProbeResult => ({
    ok: false,
    error: error instanceof Error ? error.message : String(error),
    serverVersion: null,
    tablesScanned: 0,
    classifications: [],
  });
  let serverVersion: string | null;
  try {
    serverVersion = (await queryUpstream(target, "show server_version", APPLICATION))[0]?.[0] ?? null;
  } catch (error) {
    return failed(error);
  }
  if (!scan) return { ok: true, error: null, serverVersion, tablesScanned: 0, classifications: [] };
  try {
    const tables = new Map<
      string,
      { schema: string; table: string; columns: { name: string; dataType: string }[] }
    >();
    for (const [schema, table, column, dataType] of await queryUpstream(target, TABLES_SQL, APPLICATION)) {
      if (!schema || !table || !column) continue;
      const key = `${schema}.${table}`;
      if (!tables.has(key) && tables.size >= MAX_TABLES) continue;
      const entry = tables.get(key) ?? { schema, table, columns: [] };
      entry.columns.push({ name: column, dataType: dataType ?? "" });
      tables.set(key, entry);
    }
    const samples: TTableSample[] = [];
    for (const { schema, table, columns } of tables.values()) {
      const list = columns.map((c) => `${quoteIdent(c.name)}::text`).join(", ");
      // TABLESAMPLE would skip small tables entirely; a plain LIMIT reads a few pages at most.
      const rows = await queryUpstream(
        target,
        `select ${list} from ${quoteIdent(schema)}.${quoteIdent(table)} limit ${SAMPLE_ROWS}`,
        APPLICATION,
      ).catch(() => [] as (string | null)[][]);
      samples.push({
        // Rules name tables as clients write them: unqualified for public.
        table: schema === "public" ? table : `${schema}.${table}`,
        columns: columns.map((c, i) => ({
          name: c.name,
          dataType: c.dataType,
          samples: rows.map((r) => r[i] ?? null),
        })),
      });
    }
    return {
      ok: true,
      error: null,
      serverVersion,
      tablesScanned: samples.length,
      classifications: classifyColumns(samples),
    };
  } catch (error) {
    return failed(error);
  }
}
