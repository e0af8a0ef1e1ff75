// Guards against drift between prisma/schema.prisma and the hand-kept SQL migrations: applies every
// migration to a fresh real Postgres, then compares tables, columns (type, nullability), enums and
// indexes with what the schema declares, and runs the generated client against every model.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type TDb } from "./client.ts";
import { migrate } from "./migrator.ts";
import { createTestDatabase } from "./test-support.ts";

const SCHEMA = readFileSync(fileURLToPath(new URL("../../../prisma/schema.prisma", import.meta.url)), "utf8");

interface TField {
  column: string;
  type: string;
  optional: boolean;
  list: boolean;
  nativeUuid: boolean;
}
interface TModel {
  name: string;
  table: string;
  fields: Map<string, TField>;
  indexes: { columns: string[]; unique: boolean }[];
}

function parseSchema(schema: string): { models: TModel[]; enums: Map<string, string[]> } {
  const enums = new Map<string, string[]>();
  for (const m of schema.matchAll(/^enum (\w+) \{([^}]*)\}/gm)) {
    enums.set(
      m[1]!,
      m[2]!
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith("//")),
    );
  }
  const blocks = [...schema.matchAll(/^model (\w+) \{([^}]*)\}/gm)];
  const modelNames = new Set(blocks.map((b) => b[1]!));
  const models = blocks.map(([, name, body]) => {
    const fields = new Map<string, TField>();
    const indexes: TModel["indexes"] = [];
    let table = name!;
    const lines = body!
      .split("\n")
      .map((l) => l.replace(/\/\/.*$/, "").trim())
      .filter(Boolean);
    for (const line of lines) {
      if (line.startsWith("@@map")) table = /"([^"]+)"/.exec(line)![1]!;
    }
    for (const line of lines) {
      if (line.startsWith("@@")) continue;
      const [fieldName, rawType] = line.split(/\s+/);
      const baseType = rawType!.replace(/[?[\]]/g, "");
      if (modelNames.has(baseType)) continue; // relation field
      const column = /@map\("([^"]+)"\)/.exec(line)?.[1] ?? fieldName!;
      fields.set(fieldName!, {
        column,
        type: baseType,
        optional: rawType!.endsWith("?"),
        list: rawType!.endsWith("[]"),
        nativeUuid: line.includes("@db.Uuid"),
      });
      if (/@id\b/.test(line)) indexes.push({ columns: [column], unique: true });
      if (/@unique\b/.test(line)) indexes.push({ columns: [column], unique: true });
    }
    const columnsOf = (list: string) =>
      list.split(",").map((f) => {
        const fieldName = f.trim().replace(/\(.*\)$/, "");
        return fields.get(fieldName)!.column;
      });
    for (const line of lines) {
      const m = /^@@(id|unique|index)\(\[([^\]]+)\]/.exec(line);
      if (m) indexes.push({ columns: columnsOf(m[2]!), unique: m[1] !== "index" });
    }
    return { name: name!, table, fields, indexes };
  });
  return { models, enums };
}

function expectedSqlType(field: TField, enums: Map<string, string[]>): string {
  if (field.list) {
    if (enums.has(field.type)) return `ARRAY:_${field.type}`;
    return `ARRAY:_${field.nativeUuid ? "uuid" : "text"}`;
  }
  if (enums.has(field.type)) return `USER-DEFINED:${field.type}`;
  const map: Record<string, string> = {
    String: field.nativeUuid ? "uuid" : "text",
    Int: "integer",
    BigInt: "bigint",
    Float: "double precision",
    Boolean: "boolean",
    DateTime: "timestamp with time zone",
    Json: "jsonb",
  };
  const sqlType = map[field.type];
  if (!sqlType) throw new Error(`no SQL type known for Prisma type ${field.type}`);
  return sqlType;
}

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let client: pg.Client;
let db: TDb;
const { models, enums } = parseSchema(SCHEMA);

beforeAll(async () => {
  database = await createTestDatabase();
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
  db = createDb(database.url, { poolMax: 2 });
});

afterAll(async () => {
  await db?.$disconnect();
  await client?.end();
  await database?.drop();
});

describe("schema.prisma and the SQL migrations agree", () => {
  it("parses the schema (sanity check of this test itself)", () => {
    expect(models.length).toBeGreaterThanOrEqual(15);
    expect(models.find((m) => m.name === "AuditEvent")?.fields.get("prevHash")?.column).toBe("prev_hash");
  });

  it("has exactly the declared tables", async () => {
    const { rows } = await client.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' and table_name <> '_prisma_migrations'",
    );
    expect(rows.map((r) => r.table_name).sort()).toEqual(models.map((m) => m.table).sort());
  });

  it.each(models.map((m) => [m.name, m] as const))(
    "%s: columns, types and nullability match",
    async (_name, model) => {
      const { rows } = await client.query<{
        column_name: string;
        data_type: string;
        udt_name: string;
        is_nullable: string;
      }>(
        "select column_name, data_type, udt_name, is_nullable from information_schema.columns where table_schema = 'public' and table_name = $1",
        [model.table],
      );
      const actual = Object.fromEntries(
        rows.map((r) => [
          r.column_name,
          `${r.data_type === "ARRAY" || r.data_type === "USER-DEFINED" ? `${r.data_type}:${r.udt_name}` : r.data_type} ${r.is_nullable === "YES" ? "null" : "not null"}`,
        ]),
      );
      const expected = Object.fromEntries(
        [...model.fields.values()].map((f) => [
          f.column,
          `${expectedSqlType(f, enums)} ${f.optional || f.list ? "null" : "not null"}`,
        ]),
      );
      expect(actual).toEqual(expected);
    },
  );

  it("has the declared enums with the declared values", async () => {
    const { rows } = await client.query<{ name: string; values: string[] }>(
      "select t.typname as name, array_agg(e.enumlabel order by e.enumsortorder)::text[] as values from pg_type t join pg_enum e on e.enumtypid = t.oid group by t.typname",
    );
    expect(Object.fromEntries(rows.map((r) => [r.name, r.values]))).toEqual(Object.fromEntries(enums));
  });

  it("has exactly the declared indexes and unique constraints", async () => {
    const { rows } = await client.query<{ table: string; columns: string[]; unique: boolean }>(`
      select c.relname as table, i.indisunique as unique,
             array(select a.attname from unnest(i.indkey) with ordinality k(attnum, n)
                   join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum order by k.n)::text[] as columns
      from pg_index i join pg_class c on c.oid = i.indrelid join pg_namespace ns on ns.oid = c.relnamespace
      where ns.nspname = 'public' and c.relname <> '_prisma_migrations'`);
    const key = (table: string, i: { columns: string[]; unique: boolean }) =>
      `${table}(${i.columns.join(",")})${i.unique ? " unique" : ""}`;
    expect(rows.map((r) => key(r.table, r)).sort()).toEqual(
      models.flatMap((m) => m.indexes.map((i) => key(m.table, i))).sort(),
    );
  });

  it("the generated client can read every model", async () => {
    for (const model of models) {
      const delegate = (db as unknown as Record<string, { findFirst(): Promise<unknown> }>)[
        model.name[0]!.toLowerCase() + model.name.slice(1)
      ];
      expect(delegate, model.name).toBeDefined();
      await expect(delegate!.findFirst()).resolves.toBeNull();
    }
  });

  it("re-running the migrator is a no-op", async () => {
    const result = await migrate(database.url);
    expect(result.applied).toEqual([]);
    expect(result.alreadyApplied.length).toBeGreaterThan(0);
  });
});
