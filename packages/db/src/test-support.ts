// For integration tests: a fresh, migrated database on the real Postgres per test file, dropped afterwards.
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { migrate } from "./migrator.ts";
import type { TNewAuditEvent } from "./repositories/audit-events.ts";

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

/** An audit event as the store takes it: a developer's allowed read, unless the test says otherwise. */
export function newAuditEvent(overrides: Partial<TNewAuditEvent> = {}): TNewAuditEvent {
  return {
    id: randomUUID(),
    occurredAt: new Date(),
    type: "statement",
    actorId: null,
    actorName: "dev@demo.local",
    actorKind: "human",
    connectionId: null,
    connectionName: "demo",
    environment: "production",
    agentId: null,
    sessionId: null,
    clientAddr: "127.0.0.1",
    applicationName: "psql",
    statement: "select 1",
    fingerprint: null,
    statementClass: "read",
    decision: "allowed",
    ruleId: null,
    ruleName: null,
    message: null,
    tables: [],
    columns: [],
    maskedColumns: [],
    rowCount: 1,
    durationMs: 1.25,
    error: null,
    details: null,
    ...overrides,
  };
}
