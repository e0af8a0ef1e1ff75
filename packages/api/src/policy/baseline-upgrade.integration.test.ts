// A production baseline stored before the baseline grew gets what it lacks when the control plane migrates:
// a database migrated up to the migration before, with a connection's baseline rule as it was stored then,
// then the real migration applied by the real migrator.
import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { listMigrations, migrate, MIGRATIONS_DIR } from "@portcullis/db/migrator";
import { createTestDatabase } from "@portcullis/db/test-support";
import { PRODUCTION_BASELINE, ZGuardrailMatch } from "@portcullis/policy";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const UPGRADE = "20261202060000_baseline_server_file_functions";
const ADMIN_RULE = PRODUCTION_BASELINE.find((r) => r.name === "Server administration functions are blocked")!;
/** What the rule matched when it was first stored (before the server-file functions were added). */
const OLD_FUNCTIONS = [
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
];

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let before: string;
let client: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  // Every migration before the upgrade, as a database created then had them.
  before = await mkdtemp(path.join(os.tmpdir(), "migrations-before-"));
  for (const name of await readdir(MIGRATIONS_DIR))
    if (name < UPGRADE)
      await cp(path.join(MIGRATIONS_DIR, name), path.join(before, name), { recursive: true });
  await migrate(database.url, before);
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await database?.drop();
  if (before) await rm(before, { recursive: true, force: true });
});

const insertRule = (name: string, functions: string[]) =>
  client.query<{ id: string }>(
    `insert into guardrails (id, environment, name, priority, match, action, message, updated_at)
     values (gen_random_uuid(), 'production', $1, 15, $2, 'block', 'blocked', now()) returning id`,
    [name, JSON.stringify({ functions })],
  );

const functionsOf = async (id: string) =>
  (await client.query<{ f: string[] }>("select match->'functions' as f from guardrails where id = $1", [id]))
    .rows[0]!.f;

describe("the production baseline's server-administration rule", () => {
  it("gains the server-file functions on upgrade, keeps what an admin added, and moves the policy revision", async () => {
    const stored = (await insertRule(ADMIN_RULE.name, [...OLD_FUNCTIONS, "my_own_admin_fn"])).rows[0]!.id;
    const other = (await insertRule("Someone else's rule", ["pg_sleep"])).rows[0]!.id;
    await client.query(
      `insert into settings (key, value, updated_at) values ('policy_revision', '41'::jsonb, now())
       on conflict (key) do update set value = '41'::jsonb`,
    );
    expect((await listMigrations()).map((m) => m.name)).toContain(UPGRADE);
    const { applied } = await migrate(database.url);
    expect(applied).toContain(UPGRADE);
    const upgraded = await functionsOf(stored);
    expect(upgraded).toEqual(
      expect.arrayContaining([...ZGuardrailMatch.parse(ADMIN_RULE.match).functions!, "my_own_admin_fn"]),
    );
    expect(new Set(upgraded).size).toBe(upgraded.length);
    expect(await functionsOf(other)).toEqual(["pg_sleep"]);
    const revision = await client.query<{ value: number }>(
      "select value from settings where key = 'policy_revision'",
    );
    expect(revision.rows[0]!.value).toBe(42);
  });
});
