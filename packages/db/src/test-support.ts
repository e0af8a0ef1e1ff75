// For integration tests: a fresh, migrated database on the real Postgres per test file, dropped afterwards.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { migrate } from "./migrator.ts";

export const TEST_ADMIN_URL =
  process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export async function createTestDatabase(
  options: { migrate?: boolean } = {},
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `pc_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: TEST_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_ADMIN_URL);
  url.pathname = `/${name}`;
  if (options.migrate ?? true) await migrate(url.toString());
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: TEST_ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
