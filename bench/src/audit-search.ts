// `npm run bench:audit`: the timeline's filters and search over a million stored audit events, through the
// same repository function the API and dashboard call (listAuditEvents), against the local Postgres.
//   npm run bench:audit                      1,000,000 events (seeding takes a few minutes)
//   npm run bench:audit -- --events 200000
// Events are seeded with SQL (realistic mix of actors, kinds, connections, environments, decisions, tables,
// columns and statement texts over 30 days); their hash chain is not meaningful, only their shape.
import { parseArgs } from "node:util";
import {
  auditActivity,
  createDb,
  decodeAuditCursor,
  listAuditEvents,
  type TAuditEventFilter,
} from "@portcullis/db";
import { migrate } from "@portcullis/db/migrator";
import pg from "pg";

const { values: args } = parseArgs({
  options: { events: { type: "string", default: "1000000" }, repeat: { type: "string", default: "7" } },
});
const EVENTS = Number(args.events);
const REPEAT = Number(args.repeat);
const ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres";
const DB = "portcullis_bench_audit";
const url = `postgresql://postgres@127.0.0.1:5432/${DB}`;
const TARGET_MS = 300;

const log = (line: string) => process.stdout.write(`${line}\n`);

const SEED = `
WITH conn AS (
  SELECT * FROM (VALUES
    (0, '00000000-0000-4000-8000-000000000c00'::uuid, 'billing', 'production'),
    (1, '00000000-0000-4000-8000-000000000c01'::uuid, 'orders', 'production'),
    (2, '00000000-0000-4000-8000-000000000c02'::uuid, 'analytics', 'production'),
    (3, '00000000-0000-4000-8000-000000000c03'::uuid, 'crm', 'staging'),
    (4, '00000000-0000-4000-8000-000000000c04'::uuid, 'orders-staging', 'staging'),
    (5, '00000000-0000-4000-8000-000000000c05'::uuid, 'sandbox', 'development'),
    (6, '00000000-0000-4000-8000-000000000c06'::uuid, 'hr', 'production'),
    (7, '00000000-0000-4000-8000-000000000c07'::uuid, 'search', 'staging')
  ) AS c(n, id, name, environment)
),
tbl AS (
  SELECT * FROM (VALUES
    (0, 'customers', 'email'), (1, 'orders', 'total'), (2, 'payments', 'card_number'), (3, 'invoices', 'amount'),
    (4, 'users', 'ssn'), (5, 'sessions', 'token'), (6, 'products', 'price'), (7, 'shipments', 'address'),
    (8, 'employees', 'salary'), (9, 'audit_log', 'detail')
  ) AS t(n, name, col)
),
g AS (
  SELECT i, ((i::bigint * 7919) % 1000003)::int AS r FROM generate_series($1::int, $2::int) AS i
)
INSERT INTO audit_events (id, occurred_at, type, actor_id, actor_name, actor_kind, connection_id, connection_name,
  environment, session_id, client_addr, application_name, statement, fingerprint, statement_class, decision,
  rule_name, message, tables, columns, masked_columns, row_count, duration_ms, prev_hash, hash)
SELECT gen_random_uuid(),
  now() - ((g.r % 2592000) || ' seconds')::interval,
  CASE WHEN g.r % 50 = 0 THEN 'session_start' WHEN g.r % 997 = 0 THEN 'admin_change' ELSE 'statement' END,
  NULL,
  CASE WHEN g.r % 10 = 9 THEN 'copilot' || (g.r % 5) || '@corp.example'
       WHEN g.r % 10 = 8 THEN 'etl-' || (g.r % 7) ELSE 'user' || lpad((g.r % 200)::text, 3, '0') || '@corp.example' END,
  CASE WHEN g.r % 10 = 9 THEN 'ai_agent' WHEN g.r % 10 = 8 THEN 'service' ELSE 'human' END,
  conn.id, conn.name, conn.environment,
  NULL, '10.0.' || (g.r % 250) || '.' || (g.r % 200), 'psql',
  CASE WHEN g.r % 100000 = 7 THEN 'select * from ' || tbl.name || ' where note = ''incident-rare-marker-' || g.i || ''''
       WHEN g.i % 20 = 3 THEN 'delete from ' || tbl.name || ' where id = ' || g.i
       WHEN g.r % 7 = 0 THEN 'update ' || tbl.name || ' set ' || tbl.col || ' = $1 where id = ' || g.i
       ELSE 'select ' || tbl.col || ', id from ' || tbl.name || ' where id = ' || g.i END,
  md5(tbl.name || (g.r % 4)),
  CASE WHEN g.i % 20 = 3 OR g.r % 7 = 0 THEN 'write' ELSE 'read' END,
  CASE WHEN g.r % 500 = 3 THEN 'blocked' WHEN g.r % 13 = 0 THEN 'masked' WHEN g.r % 1000 = 1 THEN 'error' ELSE 'allowed' END,
  CASE WHEN g.r % 500 = 3 THEN 'Block destructive DDL' ELSE 'Default: allow' END,
  CASE WHEN g.r % 500 = 3 THEN 'Portcullis blocked this statement' ELSE NULL END,
  ARRAY[tbl.name], ARRAY[tbl.name || '.' || tbl.col, tbl.name || '.id'],
  CASE WHEN g.r % 13 = 0 THEN ARRAY[tbl.name || '.' || tbl.col] ELSE ARRAY[]::text[] END,
  g.r % 100, (g.r % 5000) / 100.0,
  md5(g.i::text) || md5((g.i + 1)::text), md5(g.i::text || 'h') || md5(g.i::text || 'x')
FROM g JOIN conn ON conn.n = (g.i / 10) % 8 JOIN tbl ON tbl.n = g.i % 10`;

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${DB}`);
  await admin.end();
  await migrate(url);

  const seeder = new pg.Client({ connectionString: url });
  await seeder.connect();
  const started = Date.now();
  const chunk = 100_000;
  for (let from = 1; from <= EVENTS; from += chunk) {
    await seeder.query(SEED, [from, Math.min(EVENTS, from + chunk - 1)]);
    log(
      `seeded ${Math.min(EVENTS, from + chunk - 1).toLocaleString("en")} events (${((Date.now() - started) / 1000).toFixed(0)} s)`,
    );
  }
  await seeder.query("VACUUM ANALYZE audit_events");
  await seeder.end();

  const db = createDb(url, { poolMax: 2 });
  const now = Date.now();
  const day = 24 * 3600_000;
  const first = await listAuditEvents(db, {}, { limit: 50 });
  const cases: [string, TAuditEventFilter, boolean?][] = [
    ["newest 50, no filter", {}],
    ["next page (cursor)", {}, true],
    ["actor", { actorName: "user042@corp.example" }],
    ["actor kind: AI agent", { actorKind: "ai_agent" }],
    ["connection (name)", { connectionName: "hr" }],
    ["connection (id)", { connectionId: "00000000-0000-4000-8000-000000000c03" }],
    ["environment", { environment: "development" }],
    ["decision: blocked (0.2%)", { decision: "blocked" }],
    ["decision: error (0.1%)", { decision: "error" }],
    ["table", { table: "payments" }],
    ["column", { column: "users.ssn" }],
    ["event type: admin change", { type: "admin_change" }],
    ["text: common ('payments')", { text: "payments" }],
    ["text: rare (10 events)", { text: "incident-rare-marker" }],
    ["text: no match", { text: "no-such-thing-anywhere" }],
    ["time range: one day, 10 days ago", { from: new Date(now - 11 * day), to: new Date(now - 10 * day) }],
    [
      "combined: production + blocked + text 'delete'",
      { environment: "production", decision: "blocked", text: "delete" },
    ],
    [
      "combined: AI agent + table + last 7 days",
      { actorKind: "ai_agent", table: "customers", from: new Date(now - 7 * day) },
    ],
  ];
  log("");
  log(
    `audit search over ${EVENTS.toLocaleString("en")} events (listAuditEvents, page of 50; ${REPEAT} runs each)`,
  );
  log("query                                              median ms   max ms   rows");
  let worst = 0;
  for (const [label, filter, nextPage] of cases) {
    const cursor = nextPage && first.nextCursor ? decodeAuditCursor(first.nextCursor) : null;
    const page = cursor ? { limit: 50, cursor } : { limit: 50 };
    await listAuditEvents(db, filter, page); // warm-up
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < REPEAT; i++) {
      const t0 = performance.now();
      const result = await listAuditEvents(db, filter, page);
      times.push(performance.now() - t0);
      rows = result.items.length;
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    worst = Math.max(worst, median);
    log(
      `${label.padEnd(50)} ${median.toFixed(1).padStart(9)} ${times.at(-1)!.toFixed(1).padStart(8)} ${String(rows).padStart(6)}`,
    );
  }
  // The Overview page: four aggregates over the window (buckets, top identities, top tables, totals).
  log("");
  log("overview (auditActivity)                           median ms   max ms   statements");
  for (const [label, days, bucketSeconds] of [
    ["last 24 hours, hourly", 1, 3600],
    ["last 7 days, 6-hourly", 7, 6 * 3600],
    ["last 30 days, daily (the whole store)", 30, 86_400],
  ] as const) {
    const window = {
      from: new Date(now - days * day),
      to: new Date(now),
      bucketSeconds,
      connectionIds: [],
      limit: 10,
    };
    await auditActivity(db, window); // warm-up
    const times: number[] = [];
    let statements = 0;
    for (let i = 0; i < REPEAT; i++) {
      const t0 = performance.now();
      statements = (await auditActivity(db, window)).totals.statements;
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    log(
      `${label.padEnd(50)} ${times[Math.floor(times.length / 2)]!.toFixed(1).padStart(9)} ${times.at(-1)!.toFixed(1).padStart(8)} ${String(statements).padStart(12)}`,
    );
  }
  await db.$disconnect();
  log("");
  log(
    `audit search: slowest median ${worst.toFixed(0)} ms over ${EVENTS.toLocaleString("en")} events (target ${TARGET_MS} ms)`,
  );
}

main().catch((error: Error) => {
  process.stderr.write(`audit search benchmark failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
