// Backpressure: a client that stops reading a ~300 MB result must not make the agent buffer it. The agent
// runs as its own process and its resident memory is read from /proc while the client's socket is paused.
import net from "node:net";
import { createTestDatabase } from "@portcullis/db/test-support";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  localUpstream,
  startProxyProcess,
  TEST_CONNECTION,
  TEST_IDENTITY,
  TEST_TOKEN,
  type TProxyProcess,
} from "./test-harness.ts";
import { passwordMessage, queryMessage, startupMessage } from "./wire.ts";

const ROWS = 300_000;
const RESULT_BYTES = ROWS * 1_000;

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let agent: TProxyProcess;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  agent = await startProxyProcess({ upstreams: { shop: localUpstream(database.name) } });
});

afterAll(async () => {
  await agent?.stop();
  await database?.drop();
});

it("a slow reader of a ~300 MB result keeps the agent's memory flat, and still gets every row", async () => {
  const socket = net.connect(agent.port, "127.0.0.1");
  socket.on("error", () => undefined);
  let received = 0;
  let tail = Buffer.alloc(0);
  socket.on("data", (d: Buffer) => {
    received += d.length;
    tail = Buffer.concat([tail, d]).subarray(-256);
  });
  await new Promise<void>((r) => socket.once("connect", r));
  // libpq order: startup, then the password after the agent asks for it.
  socket.write(startupMessage({ user: TEST_IDENTITY, database: TEST_CONNECTION }));
  await until(() => received >= 9);
  socket.write(passwordMessage(TEST_TOKEN));
  await until(() => tail.includes(Buffer.from([0x5a, 0, 0, 0, 5, 0x49]))); // ReadyForQuery
  received = 0;

  // Warm up with a 10 MB result read at full speed (statement parser, JIT, pools), then take the baseline:
  // what is measured is what a paused reader adds.
  socket.write(queryMessage(`select repeat('x', 1000) from generate_series(1, 10000)`));
  await until(() => tail.includes(Buffer.from("SELECT 10000\0")));
  received = 0;
  await new Promise((r) => setTimeout(r, 300));
  const baseline = agent.rss();
  socket.write(queryMessage(`select repeat('x', 1000) from generate_series(1, ${ROWS})`));
  await until(() => received > 1_000_000);
  socket.pause();

  // While the client reads nothing, the database keeps trying to send: sample the agent's memory.
  let peak = baseline;
  const samples: number[] = [];
  for (let i = 0; i < 15; i++) {
    await new Promise((r) => setTimeout(r, 100));
    samples.push(agent.rss());
    peak = Math.max(peak, samples.at(-1)!);
  }
  const whilePaused = received;
  // The database is blocked writing to the agent (it is the one told to wait), not done.
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  const { rows } = await admin.query<{ wait_event: string | null }>(
    "select wait_event from pg_stat_activity where datname = $1 and query like 'select repeat%'",
    [database.name],
  );
  await admin.end();
  expect(rows.map((r) => r.wait_event)).toEqual(["ClientWrite"]);

  socket.resume();
  const started = Date.now();
  await until(() => tail.includes(Buffer.from(`SELECT ${ROWS}\0`)), 60_000);
  peak = Math.max(peak, agent.rss());
  socket.destroy();

  expect(whilePaused).toBeLessThan(RESULT_BYTES / 10);
  expect(received).toBeGreaterThan(RESULT_BYTES);
  expect(peak - baseline, `baseline ${baseline} peak ${peak}`).toBeLessThan(64 * 1024 * 1024);
  // Flat while paused: nothing accumulates however long the client waits. The first half second is left
  // out (chunks already in flight still land, the heap settles); buffering the result instead would grow
  // by about 100 MB per second here, so 16 MB over the settled second still tells the two apart.
  const settled = samples.slice(5);
  expect(settled.at(-1)! - settled[0]!).toBeLessThan(16 * 1024 * 1024);
  expect(Date.now() - started).toBeLessThan(30_000);
});

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}
