// `npm run bench:ingest`: the control plane's CPU per audit event, on the path an agent's `events` frame takes
// (JSON + zod validation of the frame, wire event -> row, hash chain, one bulk insert per frame), and the
// store's (Postgres's) CPU for the same rows, against a fresh database on the local Postgres.
//   npm run bench:ingest                       20,000 events in frames of 100
//   npm run bench:ingest -- --events 50000 --frame 200
//   npm run bench:ingest -- --drop-indexes audit_events_statement_trgm_idx,audit_events_tables_idx
//     (what those indexes cost: drop them after migrating, compare with a run that keeps them)
// The events look like what `npm run bench` produces: pgbench's select, one session, one connection.
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { PROTOCOL_VERSION, parseAgentMessage, type TAuditEvent } from "@portcullis/agent-protocol";
import { toNewAuditEvent } from "@portcullis/api/agent-link/wire-events";
import { appendAuditEvents, createDb, type TDb } from "@portcullis/db";
import { migrate } from "@portcullis/db/migrator";
import pg from "pg";
import { CLK_TCK, cpuTicksOf } from "./proc.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "20000" },
    frame: { type: "string", default: "100" },
    "drop-indexes": { type: "string" },
  },
});
const EVENTS = Number(args.events);
const FRAME = Number(args.frame);
const ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres";
const DB = `portcullis_bench_ingest_${process.pid}`;
const url = `postgresql://postgres@127.0.0.1:5432/${DB}`;

const log = (line: string) => process.stdout.write(`${line}\n`);

const sessionId = randomUUID();
const connectionId = randomUUID();
const actorId = randomUUID();
function event(i: number): TAuditEvent {
  return {
    id: randomUUID(),
    type: "statement",
    occurredAt: new Date(Date.now() + i).toISOString(),
    actorId,
    actorName: "dev@demo.local",
    actorKind: "human",
    connectionId,
    connectionName: "bench",
    environment: "production",
    sessionId,
    clientAddr: "127.0.0.1",
    applicationName: "pgbench",
    statement: `SELECT abalance FROM pgbench_accounts WHERE aid = ${(i * 7919) % 1_000_000};`,
    fingerprint: "5e3c1f2a9b7d4e60",
    statementClass: "read",
    decision: "allowed",
    ruleId: "default",
    ruleName: "Default: allow",
    message: null,
    tables: ["public.pgbench_accounts"],
    columns: ["public.pgbench_accounts.abalance", "public.pgbench_accounts.aid"],
    maskedColumns: [],
    rowCount: 1,
    durationMs: 0,
    error: null,
  };
}

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${DB}`);
  try {
    await migrate(url);
    const db = createDb(url, { poolMax: 1 });
    for (const index of args["drop-indexes"]?.split(",").filter(Boolean) ?? []) {
      const dropped = new pg.Client({ connectionString: url });
      await dropped.connect();
      await dropped.query(`drop index "${index.replaceAll('"', "")}"`);
      await dropped.end();
      log(`dropped index ${index}`);
    }
    // Frames as the agent sends them (serialised once there; parsed and validated here).
    const frames: string[] = [];
    for (let i = 0; i < EVENTS; i += FRAME) {
      const events = Array.from({ length: Math.min(FRAME, EVENTS - i) }, (_, k) => event(i + k));
      frames.push(JSON.stringify({ v: PROTOCOL_VERSION, type: "events", events }));
    }
    // Warm-up: the first frames pay for JIT and plan caching.
    for (const frame of frames.slice(0, 5)) await ingest(db, frame);
    const pgBefore = cpuTicksOf("postgres");
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (const frame of frames.slice(5)) await ingest(db, frame);
    const ms = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const pgTicks = cpuTicksOf("postgres") - pgBefore;
    const n = EVENTS - Math.min(EVENTS, 5 * FRAME);
    log(`${n.toLocaleString("en")} events in frames of ${FRAME}: ${((n / ms) * 1000).toFixed(0)} events/s`);
    log(
      `control plane CPU per event: ${((cpu.user + cpu.system) / n).toFixed(1)} µs (user ${(cpu.user / n).toFixed(1)}, system ${(cpu.system / n).toFixed(1)})`,
    );
    log(`Postgres CPU per event (all backends): ${((pgTicks / CLK_TCK / n) * 1e6).toFixed(1)} µs`);
    await db.$disconnect();
  } finally {
    await admin.query(`drop database if exists ${DB} with (force)`);
    await admin.end();
  }
}

async function ingest(db: TDb, raw: string): Promise<void> {
  const message = parseAgentMessage(raw);
  if ("error" in message || message.type !== "events") throw new Error("invalid frame");
  await appendAuditEvents(
    db,
    message.events.map((e) => toNewAuditEvent(e, "00000000-0000-4000-8000-0000000000a1")),
  );
}

main().catch((error: Error) => {
  process.stderr.write(`benchmark failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
