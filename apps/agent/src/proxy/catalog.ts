// What the agent knows of each upstream database's schema: table OID + attribute number → table and column
// names (RowDescription identifies direct column references that way, through aliases, subqueries and
// CTEs), and table → columns (to expand `*` when deciding masking). Read on a connection of the agent's own.
import type { Logger } from "pino";
import { connectUpstream, type TUpstreamTarget } from "./upstream.ts";
import { BodyReader, FrameReader, parseErrorFields, queryMessage, terminateMessage } from "./wire.ts";

const CATALOG_SQL = `select c.oid::int8, n.nspname, c.relname, a.attnum::int4, a.attname
from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm', 'f')
  and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
order by 1, 4`;

/** How long a catalog is trusted before it is read again (DDL through the agent refreshes it at once). */
const CATALOG_TTL_MS = 30_000;

export interface TCatalog {
  origin(tableOid: number, attnum: number): { table: string; column: string } | undefined;
  columnsOf(table: string): readonly string[] | undefined;
}

interface TTableEntry {
  schema: string;
  table: string;
  columns: Map<number, string>;
}

function buildCatalog(rows: [string, string, string, string, string][]): TCatalog {
  const byOid = new Map<number, TTableEntry>();
  const byName = new Map<string, string[]>();
  for (const [oid, schema, table, attnum, column] of rows) {
    let entry = byOid.get(Number(oid));
    if (!entry) {
      entry = { schema, table, columns: new Map() };
      byOid.set(Number(oid), entry);
    }
    entry.columns.set(Number(attnum), column);
  }
  for (const entry of byOid.values()) {
    const columns = [...entry.columns.values()];
    byName.set(`${entry.schema}.${entry.table}`, columns);
    // Unqualified names mean the table on the search path; public is the common case, and when two schemas
    // have the same table name the union of their columns is the conservative answer.
    const bare = byName.get(entry.table);
    byName.set(entry.table, bare ? [...new Set([...bare, ...columns])] : columns);
  }
  return {
    origin(tableOid, attnum) {
      const entry = byOid.get(tableOid);
      const column = entry?.columns.get(attnum);
      return entry && column ? { table: `${entry.schema}.${entry.table}`, column } : undefined;
    },
    columnsOf: (table) => byName.get(table.toLowerCase()) ?? byName.get(table),
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
  private readonly catalogs = new Map<string, { catalog: TCatalog; readAt: number }>();
  private readonly loading = new Map<string, Promise<void>>();

  constructor(private readonly logger?: Logger) {}

  /** The catalog of a connection if read, else undefined (callers then treat origins as unknown). */
  get(connectionId: string): TCatalog | undefined {
    return this.catalogs.get(connectionId)?.catalog;
  }

  /** Reads the catalog if it is missing or stale; resolves when it is fresh (or the read failed). */
  ensure(connectionId: string, target: TUpstreamTarget, now = Date.now()): Promise<void> {
    const current = this.catalogs.get(connectionId);
    if (current && now - current.readAt < CATALOG_TTL_MS) return Promise.resolve();
    let pending = this.loading.get(connectionId);
    if (!pending) {
      pending = readRows(target, CATALOG_SQL)
        .then((rows) => {
          this.catalogs.set(connectionId, {
            catalog: buildCatalog(rows as [string, string, string, string, string][]),
            readAt: Date.now(),
          });
        })
        .catch((error: Error) =>
          this.logger?.warn(
            { connectionId, err: error.message },
            "could not read the schema catalog; masking treats origins as unknown",
          ),
        )
        .finally(() => this.loading.delete(connectionId));
      this.loading.set(connectionId, pending);
    }
    return pending;
  }

  /** After DDL through the agent: the next ensure() reads the catalog again. */
  invalidate(connectionId: string): void {
    const current = this.catalogs.get(connectionId);
    if (current) current.readAt = 0;
  }
}
