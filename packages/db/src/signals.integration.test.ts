import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type TDb } from "./client.ts";
import { publishSignal, subscribeSignals } from "./signals.ts";
import { createTestDatabase } from "./test-support.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let admin: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  db = createDb(database.url, { poolMax: 2 });
  admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await db?.$disconnect();
  await database?.drop();
});

/** Backends of this test database that are listening (their last statement was a LISTEN). */
async function listeners(): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'",
  );
  return rows.map((r) => r.pid);
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("replica signals (LISTEN/NOTIFY)", () => {
  it("delivers what is published, keeps listening after its connection is killed, and stops on close", async () => {
    const heard: string[] = [];
    const errors: Error[] = [];
    const subscription = subscribeSignals(
      database.url,
      ["portcullis_test_a", "portcullis_test_b"],
      (channel, payload) => heard.push(`${channel}:${payload}`),
      { retryMs: 100, onError: (e) => errors.push(e) },
    );
    await subscription.ready;
    await publishSignal(db, "portcullis_test_a", "one");
    await publishSignal(db, "portcullis_test_b", '{"two":2}');
    await publishSignal(db, "portcullis_not_listened", "ignored");
    await until("both signals", () => heard.length >= 2);
    expect(heard).toEqual(["portcullis_test_a:one", 'portcullis_test_b:{"two":2}']);

    // A restarted database or a killed backend: the subscription reconnects and listens again.
    const [pid] = await listeners();
    expect(pid).toBeDefined();
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    await until("the listening connection to come back", async () => {
      const now = await listeners();
      return now.length === 1 && now[0] !== pid;
    });
    expect(errors.length).toBeGreaterThan(0);
    await publishSignal(db, "portcullis_test_a", "after the restart");
    await until("a signal after reconnecting", () => heard.includes("portcullis_test_a:after the restart"));

    await subscription.close();
    await until("no listener left", async () => (await listeners()).length === 0);
  });

  it("refuses a payload NOTIFY could not carry", async () => {
    await expect(publishSignal(db, "portcullis_test_a", "x".repeat(8000))).rejects.toThrow(/larger than/);
  });
});
