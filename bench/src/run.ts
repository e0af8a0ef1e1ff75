// `npm run bench`: the agent's cost against direct Postgres and PgBouncer, measured in one run on this machine.
//   npm run bench                      3 rounds of 4 s per configuration (about 8 minutes)
//   npm run bench -- --quick           1 round of 2 s (a smoke run; numbers are noisy)
//   npm run bench -- --seconds 5 --rounds 5
//   npm run bench -- --modes prepared --clients 8 --pgbench-only --profile /tmp/prof   (a CPU profile of the agent)
//   npm run bench -- --hold            set up, print how to connect, wait for Ctrl-C (measure by hand)
// Method: pgbench -S (select-only) in simple, extended and prepared modes at c = 1, 4, 8, 16 against
// direct Postgres, PgBouncer (session pooling, started here on loopback) and the agent with governance on
// (identity auth, guardrails, masking rules, audit events spooled and shipped to a control plane). Rounds
// are interleaved and the order of targets rotates each round; figures are medians. CPU comes from /proc.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createDb, issueEnrollmentToken } from "@portcullis/db";
import { migrate } from "@portcullis/db/migrator";
import { DEMO_MASKING_RULES, seedDemo } from "@portcullis/db/seed-demo";
import { PRODUCTION_BASELINE } from "@portcullis/policy";
import pg from "pg";
import { isolationCores, pinPostgres, pinSelf, startPrivateStore } from "./isolation.ts";
import { chownToPostgres, RUNNING_AS_ROOT } from "./postgres-user.ts";
import { CLK_TCK, cpuTicks, machineBusyTicks } from "./proc.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    seconds: { type: "string" },
    rounds: { type: "string" },
    scale: { type: "string", default: "10" },
    modes: { type: "string" },
    clients: { type: "string" },
    /** Skip the result-size scenarios and the ratio line (for profiling one configuration). */
    "pgbench-only": { type: "boolean", default: false },
    /** Directory for V8 CPU profiles of the agent and the control plane, written when they stop. */
    profile: { type: "string" },
    /** Extra Node flags for the agent, space-separated (e.g. "--max-semi-space-size=4 --perf-basic-prof"). */
    "agent-flags": { type: "string" },
    /** The control plane and a private store cluster on the last core, everything else on the others. */
    "isolate-control-plane": { type: "boolean", default: false },
    /** Transactions per second for the paced-latency scenario (pgbench -R at c=1); 0 skips it. */
    "paced-rate": { type: "string", default: "500" },
    /** Set everything up, print how to connect, and wait for Ctrl-C (for measuring by hand). */
    hold: { type: "boolean", default: false },
  },
});
const SECONDS = Number(args.seconds ?? (args.quick ? 2 : 4));
const ROUNDS = Number(args.rounds ?? (args.quick ? 1 : 3));
const SCALE = Number(args.scale);
const ALL_MODES = ["simple", "extended", "prepared"] as const;
const MODES = args.modes ? ALL_MODES.filter((m) => args.modes!.split(",").includes(m)) : ALL_MODES;
const CLIENTS = args.clients ? args.clients.split(",").map(Number) : [1, 4, 8, 16];
const ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres";
const BENCH_DB = "portcullis_bench";
const STORE_DB = `portcullis_bench_store_${randomBytes(3).toString("hex")}`;
const PORTS = { controlPlane: 3391, agent: 6491, pgbouncer: 6492, privateStore: 6493 };
const ISOLATE = args["isolate-control-plane"];
const PACED_RATE = Number(args["paced-rate"]);
/** Where the control plane's store lives: the machine's Postgres, or a private cluster when isolating. */
const STORE_ADMIN_URL = ISOLATE
  ? `postgresql://postgres@127.0.0.1:${PORTS.privateStore}/postgres`
  : ADMIN_URL;

type TTarget = "direct" | "pgbouncer" | "agent";
interface TRun {
  tps: number;
  latencyMs: number;
  transactions: number;
  /** CPU of the proxy process (the agent or PgBouncer) per transaction, from /proc. */
  proxyCpuUsPerTx: number | null;
  /** CPU of the control plane per agent transaction (it ingests the audit events meanwhile). */
  controlPlaneCpuUsPerTx: number | null;
  /** CPU of the whole machine per transaction, audit ingestion after an agent run included. */
  machineCpuUsPerTx: number;
}

/** Processes whose CPU is read from /proc around each run. */
const pids = { agent: 0, pgbouncer: 0, controlPlane: 0 };

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function requireBinary(name: string, hint: string): void {
  if (spawnSync("sh", ["-c", `command -v ${name}`]).status !== 0) {
    throw new Error(`${name} is not installed: ${hint}`);
  }
}

function dbUrl(name: string): string {
  const port = name === STORE_DB && ISOLATE ? PORTS.privateStore : 5432;
  return `postgresql://postgres@127.0.0.1:${port}/${name}`;
}

async function ensureBenchDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const exists =
    (await admin.query("select 1 from pg_database where datname = $1", [BENCH_DB])).rowCount === 1;
  if (!exists) await admin.query(`create database ${BENCH_DB}`);
  await admin.end();
  const storeAdmin = new pg.Client({ connectionString: STORE_ADMIN_URL });
  await storeAdmin.connect();
  await storeAdmin.query(`create database ${STORE_DB}`);
  await storeAdmin.end();
  const bench = new pg.Client({ connectionString: dbUrl(BENCH_DB) });
  await bench.connect();
  const rows = await bench
    .query<{ n: string }>("select count(*) as n from pgbench_accounts")
    .then((r) => Number(r.rows[0]?.n))
    .catch(() => 0);
  await bench.end();
  if (rows !== SCALE * 100_000) {
    log(`initialising pgbench data (scale ${SCALE})...`);
    const init = spawnSync(
      "pgbench",
      ["-i", "-q", "-s", String(SCALE), "-h", "127.0.0.1", "-U", "postgres", BENCH_DB],
      { stdio: "inherit" },
    );
    if (init.status !== 0) throw new Error("pgbench -i failed");
  }
}

async function seedControlPlane(): Promise<{ token: string; enrollment: string; secret: string }> {
  const storeUrl = dbUrl(STORE_DB);
  await migrate(storeUrl);
  const db = createDb(storeUrl, { poolMax: 1 });
  const secrets = {
    adminPassword: randomBytes(12).toString("hex"),
    adminApiToken: `pcat_${randomBytes(32).toString("base64url")}`,
    developerToken: `pcat_${randomBytes(32).toString("base64url")}`,
    copilotToken: `pcat_${randomBytes(32).toString("base64url")}`,
  };
  await seedDemo(db, {
    secrets,
    agentName: "bench-agent",
    connection: {
      name: "bench",
      environment: "production",
      host: "127.0.0.1",
      port: 5432,
      database: BENCH_DB,
      username: "postgres",
    },
    guardrails: PRODUCTION_BASELINE.map((g) => ({ ...g, match: g.match as Record<string, unknown> })),
    // The demo's rules (PII columns and content detectors over every text cell) and one column the
    // result scenarios read: pgbench -S returns only an integer, so its results need no per-row work,
    // while every row of `select *` gets its filler hashed.
    maskingRules: [
      ...DEMO_MASKING_RULES,
      {
        name: "Hash account filler",
        columnPattern: "pgbench_accounts.filler",
        detector: null,
        strategy: "hash",
      },
    ],
  });
  const enrollment = await issueEnrollmentToken(db, "bench-agent");
  await db.$disconnect();
  return {
    token: secrets.developerToken,
    enrollment: enrollment.token,
    secret: randomBytes(16).toString("hex"),
  };
}

const children: ChildProcess[] = [];
function startProcess(
  command: string,
  argv: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<ChildProcess> {
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (ready.test(output)) resolve(child);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) =>
      reject(new Error(`${command} ${argv.join(" ")} exited (${code}):\n${output}`)),
    );
    setTimeout(() => reject(new Error(`${command} did not become ready:\n${output}`)), 60_000).unref();
  });
}

/** A Postgres that just opened its port may still refuse connections while it starts up. */
async function acceptsConnections(url: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (attempt >= 50) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function waitForPort(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 20_000;
    const attempt = () => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve();
      });
      socket.on("error", () =>
        Date.now() > deadline ? reject(new Error(`port ${port} did not open`)) : setTimeout(attempt, 100),
      );
    };
    attempt();
  });
}

async function startPgbouncer(parent: string): Promise<number> {
  const dir = path.join(parent, "pgbouncer");
  mkdirSync(dir);
  const ini = path.join(dir, "pgbouncer.ini");
  writeFileSync(path.join(dir, "users.txt"), '"postgres" ""\n');
  writeFileSync(
    ini,
    [
      "[databases]",
      `bench = host=127.0.0.1 port=5432 dbname=${BENCH_DB} user=postgres`,
      "[pgbouncer]",
      `listen_addr = 127.0.0.1`,
      `listen_port = ${PORTS.pgbouncer}`,
      "auth_type = trust",
      `auth_file = ${path.join(dir, "users.txt")}`,
      "pool_mode = session",
      "max_client_conn = 200",
      "default_pool_size = 32",
      "ignore_startup_parameters = extra_float_digits",
      `logfile = ${path.join(dir, "pgbouncer.log")}`,
      `pidfile = ${path.join(dir, "pgbouncer.pid")}`,
      "",
    ].join("\n"),
  );
  // As root, -u drops to the postgres user, which must own the directory.
  chmodSync(parent, 0o755);
  if (RUNNING_AS_ROOT) chownToPostgres(["", "pgbouncer.ini", "users.txt"].map((f) => path.join(dir, f)));
  const child = spawn("pgbouncer", RUNNING_AS_ROOT ? ["-u", "postgres", ini] : [ini], { stdio: "ignore" });
  children.push(child);
  await waitForPort(PORTS.pgbouncer);
  return child.pid!;
}

function rssKb(pid: number, field: "VmRSS" | "VmHWM" = "VmRSS"): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? 0);
}

function pgbench(
  target: TTarget,
  mode: string,
  clients: number,
  seconds: number,
  token: string,
  extra: string[] = [],
): TRun {
  const conn: Record<TTarget, { port: number; user: string; db: string; password?: string }> = {
    direct: { port: 5432, user: "postgres", db: BENCH_DB },
    pgbouncer: { port: PORTS.pgbouncer, user: "postgres", db: "bench" },
    agent: { port: PORTS.agent, user: "dev@demo.local", db: "bench", password: token },
  };
  const c = conn[target];
  const proxyPid = target === "agent" ? pids.agent : target === "pgbouncer" ? pids.pgbouncer : 0;
  const before = proxyPid ? cpuTicks(proxyPid) : 0;
  const result = spawnSync(
    "pgbench",
    [
      "-h",
      "127.0.0.1",
      "-p",
      String(c.port),
      "-U",
      c.user,
      "-n",
      ...(extra.length ? extra : ["-S"]),
      "-M",
      mode,
      "-c",
      String(clients),
      "-j",
      String(Math.min(clients, 2)),
      "-T",
      String(seconds),
      c.db,
    ],
    { env: { ...process.env, ...(c.password ? { PGPASSWORD: c.password } : {}) }, encoding: "utf8" },
  );
  if (result.status !== 0) throw new Error(`pgbench against ${target} failed:\n${result.stderr}`);
  const tps = Number(/tps = ([\d.]+)/.exec(result.stdout)?.[1]);
  const latencyMs = Number(/latency average = ([\d.]+) ms/.exec(result.stdout)?.[1]);
  const transactions = Number(/number of transactions actually processed: (\d+)/.exec(result.stdout)?.[1]);
  const perTx = (ticks: number) => (ticks / CLK_TCK / transactions) * 1e6;
  return {
    tps,
    latencyMs,
    transactions,
    proxyCpuUsPerTx: proxyPid ? perTx(cpuTicks(proxyPid) - before) : null,
    controlPlaneCpuUsPerTx: null,
    machineCpuUsPerTx: 0,
  };
}

/** Statement events the agent has produced so far (one per pgbench transaction, at least). */
let agentStatements = 0;

/**
 * Resolves once the store holds an event for every statement run through the agent so far (its spool is
 * drained), or after 10 minutes (then says so). Waiting for all of them, not for a quiet moment, keeps one
 * run's ingestion out of the next run and puts all of it in this run's control-plane CPU.
 */
async function auditDrained(store: pg.Client): Promise<void> {
  const stored = async () =>
    Number(
      (await store.query<{ n: string }>("select count(*) as n from audit_events where type = 'statement'"))
        .rows[0]?.n,
    );
  const deadline = Date.now() + 600_000;
  let n = await stored();
  while (n < agentStatements && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    n = await stored();
  }
  if (n < agentStatements)
    log(`(the control plane had stored ${n} of ${agentStatements} statement events after 10 minutes)`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** The figures are for governance as configured: check that the agent really masks what the rules say. */
async function expectMasked(token: string): Promise<void> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port: PORTS.agent,
    user: "dev@demo.local",
    password: token,
    database: "bench",
  });
  await client.connect();
  const { rows } = await client.query<{ filler: string }>(
    "select filler from pgbench_accounts where aid = 1",
  );
  await client.end();
  if (!rows[0]?.filler.startsWith("hash:"))
    throw new Error(`masking is not active through the agent (filler = ${JSON.stringify(rows[0]?.filler)})`);
}

/** A minimal wire-protocol client that reads a big result slowly, to check the agent applies backpressure. */
function streamQuery(
  port: number,
  user: string,
  password: string | null,
  database: string,
  sql: string,
  bytesPerSecond: number,
): Promise<{ rows: number; bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const cstr = (s: string) => Buffer.from(`${s}\0`);
    const msg = (type: string, body: Buffer) => {
      const head = Buffer.alloc(5);
      head.write(type, 0, "latin1");
      head.writeInt32BE(body.length + 4, 1);
      return Buffer.concat([head, body]);
    };
    const params = Buffer.concat([
      cstr("user"),
      cstr(user),
      cstr("database"),
      cstr(database),
      Buffer.from([0]),
    ]);
    const startup = Buffer.alloc(8);
    startup.writeInt32BE(params.length + 8, 0);
    startup.writeInt32BE(196_608, 4);
    socket.write(Buffer.concat([startup, params]));
    let buffer: Buffer = Buffer.alloc(0);
    let rows = 0;
    let bytes = 0;
    let querying = false;
    const started = Date.now();
    socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      let offset = 0;
      while (buffer.length - offset >= 5) {
        const type = String.fromCharCode(buffer[offset]!);
        const length = buffer.readInt32BE(offset + 1);
        if (buffer.length - offset < length + 1) break;
        if (type === "R" && buffer.readInt32BE(offset + 5) === 3)
          socket.write(msg("p", cstr(password ?? "")));
        else if (type === "E") reject(new Error(buffer.toString("utf8", offset + 5, offset + 1 + length)));
        else if (type === "D") rows += 1;
        else if (type === "Z") {
          if (!querying) {
            querying = true;
            socket.write(msg("Q", cstr(sql)));
          } else {
            socket.end(msg("X", Buffer.alloc(0)));
            resolve({ rows, bytes, ms: Date.now() - started });
          }
        }
        offset += length + 1;
      }
      buffer = buffer.subarray(offset);
      if (querying && bytesPerSecond > 0) {
        socket.pause();
        setTimeout(() => socket.resume(), (chunk.length / bytesPerSecond) * 1000);
      }
    });
    socket.on("error", reject);
  });
}

async function main(): Promise<void> {
  requireBinary("pgbench", "apt-get install postgresql-contrib (or run bash .ci/run once)");
  requireBinary("pgbouncer", "apt-get install pgbouncer (or run bash .ci/run once)");
  log(
    `Portcullis benchmark: ${os.cpus().length} cores, ${SECONDS} s per run, ${ROUNDS} round(s), pgbench scale ${SCALE}`,
  );
  const tmp = mkdtempSync(path.join(os.tmpdir(), "portcullis-bench-"));
  let unpinPostgres = () => {};
  const cores = ISOLATE ? isolationCores() : null;
  try {
    if (cores) {
      requireBinary("taskset", "apt-get install util-linux");
      children.push(startPrivateStore(path.join(tmp, "store-pg"), PORTS.privateStore, cores.controlCores));
      await waitForPort(PORTS.privateStore);
      await acceptsConnections(STORE_ADMIN_URL);
      const admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
      const dataDirectory = (await admin.query<{ data_directory: string }>("show data_directory")).rows[0]!
        .data_directory;
      await admin.end();
      unpinPostgres = pinPostgres(dataDirectory, cores.dataCores);
      pinSelf(cores.dataCores);
      log(
        `isolated: the control plane and its store (a private cluster on port ${PORTS.privateStore}) on core ${cores.controlCores}; pgbench, Postgres, PgBouncer and the agent on core(s) ${cores.dataCores}`,
      );
    }
    await ensureBenchDatabase();
    const seeded = await seedControlPlane();
    // The control plane and the agent as deployed (docker/*.Dockerfile, npm start): production bundles.
    for (const script of ["bench/scripts/build-control-plane.mjs", "apps/agent/scripts/build.mjs"]) {
      const built = spawnSync(process.execPath, [script], { cwd: ROOT, stdio: "inherit" });
      if (built.status !== 0) throw new Error(`${script} failed`);
    }
    const controlPlane = await startProcess(
      cores ? "taskset" : process.execPath,
      [
        ...(cores ? ["-c", cores.controlCores, process.execPath] : []),
        ...(args.profile
          ? ["--cpu-prof", "--cpu-prof-dir", path.join(path.resolve(args.profile), "control-plane")]
          : []),
        "--enable-source-maps",
        "bench/dist/control-plane.mjs",
        dbUrl(STORE_DB),
        String(PORTS.controlPlane),
        seeded.secret,
      ],
      {},
      /control plane ready/,
    );
    // Through the launcher the Dockerfile and `npm start` use (its malloc settings are part of the agent).
    const agent = await startProcess(
      "apps/agent/bin/portcullis-agent",
      [
        ...(args.profile
          ? ["--cpu-prof", "--cpu-prof-dir", path.join(path.resolve(args.profile), "agent")]
          : []),
        ...(args["agent-flags"]?.split(" ").filter(Boolean) ?? []),
      ],
      {
        NODE: process.execPath,
        PORTCULLIS_CONTROL_PLANE_URL: `http://127.0.0.1:${PORTS.controlPlane}`,
        PORTCULLIS_ENROLLMENT_TOKEN: seeded.enrollment,
        PORTCULLIS_AGENT_DATA_DIR: path.join(tmp, "agent"),
        PORTCULLIS_LISTEN_PORT: String(PORTS.agent),
        // The control plane here shares the 2 cores and ingests more slowly than pgbench produces events:
        // a larger spool keeps the agent from refusing statements (audit fails closed) during the run.
        PORTCULLIS_AUDIT_SPOOL_MAX_MB: "4096",
        LOG_LEVEL: "info",
      },
      /"msg":"ready"/,
    );
    const agentPid = agent.pid!;
    pids.agent = agentPid;
    pids.controlPlane = controlPlane.pid!;
    pids.pgbouncer = await startPgbouncer(tmp);
    await expectMasked(seeded.token);
    agentStatements += 1;
    const targets: TTarget[] = ["direct", "pgbouncer", "agent"];
    for (const t of targets) {
      const warmUp = pgbench(t, "simple", 2, 1, seeded.token);
      if (t === "agent") agentStatements += warmUp.transactions;
    }

    if (args.hold) {
      log(
        `holding: agent pid ${pids.agent} (PGPASSWORD=${seeded.token} psql -h 127.0.0.1 -p ${PORTS.agent} -U dev@demo.local bench), pgbouncer pid ${pids.pgbouncer} (port ${PORTS.pgbouncer}, db bench), control plane pid ${pids.controlPlane}, store ${dbUrl(STORE_DB)}; Ctrl-C ends`,
      );
      await new Promise((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      return;
    }

    const store = new pg.Client({ connectionString: dbUrl(STORE_DB) });
    await store.connect();
    const results = new Map<string, TRun[]>();
    const key = (t: TTarget, m: string, c: number) => `${t}|${m}|${c}`;
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of MODES) {
        for (const clients of CLIENTS) {
          const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
          for (const target of order) {
            const controlPlaneBefore = cpuTicks(pids.controlPlane);
            const machineBefore = machineBusyTicks();
            const run = pgbench(target, mode, clients, SECONDS, seeded.token);
            if (target === "agent") {
              agentStatements += run.transactions;
              // The control plane ingests the run's events partly after it: wait until it is done, so the
              // next run (of any target) does not share the cores with this one's backlog, and count it.
              await auditDrained(store);
              run.controlPlaneCpuUsPerTx =
                ((cpuTicks(pids.controlPlane) - controlPlaneBefore) / CLK_TCK / run.transactions) * 1e6;
            }
            run.machineCpuUsPerTx = ((machineBusyTicks() - machineBefore) / CLK_TCK / run.transactions) * 1e6;
            results.set(key(target, mode, clients), [
              ...(results.get(key(target, mode, clients)) ?? []),
              run,
            ]);
          }
        }
      }
      log(`round ${round + 1}/${ROUNDS} done`);
    }

    const med = (t: TTarget, m: string, c: number, f: (r: TRun) => number) =>
      median((results.get(key(t, m, c)) ?? []).map(f));
    log("");
    log("pgbench -S (select-only); tps medians; ratios are agent / target");
    log(
      "mode      c   direct tps  pgbouncer tps   agent tps  agent/direct  agent/pgbouncer  CPU µs/tx: agent  pgbouncer  control plane",
    );
    for (const mode of MODES) {
      for (const c of CLIENTS) {
        const d = med("direct", mode, c, (r) => r.tps);
        const b = med("pgbouncer", mode, c, (r) => r.tps);
        const a = med("agent", mode, c, (r) => r.tps);
        const cpu = med("agent", mode, c, (r) => r.proxyCpuUsPerTx ?? 0);
        const bouncerCpu = med("pgbouncer", mode, c, (r) => r.proxyCpuUsPerTx ?? 0);
        const controlCpu = med("agent", mode, c, (r) => r.controlPlaneCpuUsPerTx ?? 0);
        log(
          `${mode.padEnd(9)} ${String(c).padStart(2)} ${d.toFixed(0).padStart(12)} ${b.toFixed(0).padStart(14)} ${a.toFixed(0).padStart(11)} ${(a / d).toFixed(2).padStart(13)} ${(a / b).toFixed(2).padStart(16)} ${cpu.toFixed(1).padStart(16)} ${bouncerCpu.toFixed(1).padStart(10)} ${controlCpu.toFixed(1).padStart(14)}`,
        );
      }
    }
    log("");
    // tps on a saturated machine is roughly cores / this: where the governed path's cost goes in total.
    log(
      "whole-machine CPU µs per transaction (pgbench, Postgres, proxy; for the agent also its control plane",
    );
    log("and audit store, ingestion after the run included)");
    log("mode      c   direct  pgbouncer    agent");
    for (const mode of MODES) {
      for (const c of CLIENTS) {
        const [d, b, a] = targets.map((t) => med(t, mode, c, (r) => r.machineCpuUsPerTx));
        log(
          `${mode.padEnd(9)} ${String(c).padStart(2)} ${d!.toFixed(0).padStart(8)} ${b!.toFixed(0).padStart(10)} ${a!.toFixed(0).padStart(8)}`,
        );
      }
    }
    log("");
    for (const mode of CLIENTS.includes(1) ? MODES : []) {
      const added =
        (med("agent", mode, 1, (r) => r.latencyMs) - med("direct", mode, 1, (r) => r.latencyMs)) * 1000;
      const bouncer =
        (med("pgbouncer", mode, 1, (r) => r.latencyMs) - med("direct", mode, 1, (r) => r.latencyMs)) * 1000;
      log(`added latency at c=1 (${mode}): agent ${added.toFixed(0)} µs, pgbouncer ${bouncer.toFixed(0)} µs`);
    }

    // Saturated runs measure cost; most real traffic is paced, where latency is what a user feels. pgbench
    // -R schedules transactions at random (Poisson) times and counts latency from the scheduled start.
    if (PACED_RATE > 0) {
      // Per-transaction latencies from pgbench's log (-l): the mean hides a tail that percentiles show.
      const latencies = new Map<TTarget, number[]>();
      const logDir = path.join(tmp, "paced");
      mkdirSync(logDir);
      for (let round = 0; round < ROUNDS; round++) {
        for (const target of targets.map((_, i) => targets[(i + round) % targets.length]!)) {
          const prefix = `${target}-${round}`;
          const run = pgbench(target, "prepared", 1, SECONDS, seeded.token, [
            "-S",
            "-R",
            String(PACED_RATE),
            "-l",
            "--log-prefix",
            path.join(logDir, prefix),
          ]);
          if (target === "agent") {
            agentStatements += run.transactions;
            await auditDrained(store);
          }
          const mine = latencies.get(target) ?? [];
          for (const file of readdirSync(logDir).filter((f) => f.startsWith(`${prefix}.`)))
            for (const line of readFileSync(path.join(logDir, file), "utf8").split("\n"))
              if (line) mine.push(Number(line.split(" ")[2]));
          latencies.set(target, mine);
        }
      }
      const summary = (t: TTarget) => {
        const xs = (latencies.get(t) ?? []).sort((x, y) => x - y);
        const at = (q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;
        const mean = xs.reduce((sum, x) => sum + x, 0) / xs.length;
        return `${mean.toFixed(0)} / ${at(0.5).toFixed(0)} / ${at(0.99).toFixed(0)}`;
      };
      log(
        `paced latency (prepared, c=1, ${PACED_RATE} tx/s from the scheduled start; µs mean / p50 / p99): direct ${summary("direct")}, pgbouncer ${summary("pgbouncer")}, agent ${summary("agent")}`,
      );
    }

    if (args["pgbench-only"]) {
      await store.end();
      return;
    }

    // 100-row result through the full path, one column of it masked.
    const script = path.join(tmp, "hundred.sql");
    writeFileSync(
      script,
      "\\set aid random(1, 100000 * :scale - 100)\nselect * from pgbench_accounts where aid between :aid and :aid + 99;\n",
    );
    const hundred = (t: TTarget) =>
      median(
        Array.from({ length: ROUNDS }, () => {
          const run = pgbench(t, "extended", 4, SECONDS, seeded.token, ["-f", script]);
          if (t === "agent") agentStatements += run.transactions;
          return run.tps;
        }),
      );
    const hd = hundred("direct");
    const ha = hundred("agent");
    log(
      `100-row result, filler masked (extended, c=4): direct ${hd.toFixed(0)} tps, agent ${ha.toFixed(0)} tps, ratio ${(ha / hd).toFixed(2)}`,
    );

    // 1M rows with the filler masked, read by a fast client (throughput) and by a slow client (the agent
    // must not buffer).
    const rows = SCALE * 100_000;
    const sql = `select * from pgbench_accounts where aid <= ${Math.min(rows, 1_000_000)}`;
    const fastDirect = await streamQuery(5432, "postgres", null, BENCH_DB, sql, 0);
    const fastAgent = await streamQuery(PORTS.agent, "dev@demo.local", seeded.token, "bench", sql, 0);
    // The oldest pending audit events live in the agent's memory until acknowledged (up to 16 MB): measure
    // streaming without a backlog.
    agentStatements += 1;
    await auditDrained(store);
    const mbps = (r: { bytes: number; ms: number }) => r.bytes / 1024 / 1024 / (r.ms / 1000);
    // A quarter of what the agent can deliver, so the agent, not the client, has to hold back.
    const slowRate = mbps(fastAgent) / 4;
    const baseline = rssKb(agentPid);
    // The high-water mark so far: the pgbench runs (with their audit backlog) and the fast read.
    const loadPeak = rssKb(agentPid, "VmHWM");
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKb(agentPid))), 50);
    const slow = await streamQuery(
      PORTS.agent,
      "dev@demo.local",
      seeded.token,
      "bench",
      sql,
      slowRate * 1024 * 1024,
    );
    clearInterval(sampler);
    log(
      `${fastAgent.rows.toLocaleString("en")}-row SELECT (filler masked through the agent): direct ${mbps(fastDirect).toFixed(0)} MiB/s (${(fastDirect.rows / (fastDirect.ms / 1000) / 1000).toFixed(0)}k rows/s), agent ${mbps(fastAgent).toFixed(0)} MiB/s (${(fastAgent.rows / (fastAgent.ms / 1000) / 1000).toFixed(0)}k rows/s)`,
    );
    log(
      `slow client (${slowRate.toFixed(1)} MiB/s) through the agent, masked: ${slow.rows.toLocaleString("en")} rows in ${(slow.ms / 1000).toFixed(1)} s; agent RSS ${(baseline / 1024).toFixed(0)} MB before, peak ${(peak / 1024).toFixed(0)} MB (highest before it, under the pgbench runs: ${(loadPeak / 1024).toFixed(0)} MB)`,
    );

    const agentTransactions = [...results.entries()]
      .filter(([k]) => k.startsWith("agent|"))
      .reduce((n, [, runs]) => n + runs.reduce((m, r) => m + r.transactions, 0), 0);
    const stored = Number(
      (await store.query<{ n: string }>("select count(*) as n from audit_events where type = 'statement'"))
        .rows[0]?.n,
    );
    await store.end();
    log(
      `audit: ${agentTransactions.toLocaleString("en")} pgbench transactions through the agent; ${stored.toLocaleString("en")} statement events stored by the control plane so far (the rest are spooled, not lost)`,
    );
    // The issue's ratio is simple mode at c=8; a run narrowed with --modes reports its first mode instead.
    const ratioMode = MODES.includes("simple") ? "simple" : MODES[0]!;
    const c8 = (t: TTarget) => med(t, ratioMode, 8, (r) => r.tps);
    log("");
    if (!CLIENTS.includes(8)) log("no ratio line: it compares c=8, which --clients left out");
    else
      log(
        `ratio agent/direct=${(c8("agent") / c8("direct")).toFixed(2)} agent/pgbouncer=${(c8("agent") / c8("pgbouncer")).toFixed(2)} (pgbench -S${ratioMode === "simple" ? "" : ` -M ${ratioMode}`} c=8, median of ${ROUNDS})`,
      );
  } finally {
    unpinPostgres();
    for (const child of children.reverse()) child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    if (!ISOLATE) {
      const admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
      await admin.query(`drop database if exists ${STORE_DB} with (force)`);
      await admin.end();
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  process.stderr.write(`benchmark failed: ${error.message}\n`);
  for (const child of children) child.kill("SIGKILL");
  process.exit(1);
});
