// `npm start`: the zero-setup demo, like `vault server -dev`. Runs an embedded control-plane store
// (unless DATABASE_URL is set), an embedded demo database with customer data, the control plane and one
// agent as child processes, then prints how to sign in and connect. Ctrl-C stops everything.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createDb, generateToken, issueEnrollmentToken } from "@portcullis/db";
import { startEmbeddedPostgres, type TEmbeddedPostgres } from "@portcullis/db/embedded";
import { migrate } from "@portcullis/db/migrator";
import { DEMO_IDENTITIES, DEMO_MASKING_RULES, seedDemo, type TDemoSecrets } from "@portcullis/db/seed-demo";
import { PRODUCTION_BASELINE } from "@portcullis/policy";
import pg from "pg";
import { demoDatabaseSql } from "./demo-data.ts";
import { env, inheritedEnvironment } from "./env.ts";
import { ensureDemoCertificate } from "./tls.ts";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const DATA_DIR = path.resolve(ROOT, env.PORTCULLIS_DATA_DIR ?? ".data");
const WEB_DIR = path.join(ROOT, "apps/web");
const AGENT_DIR = path.join(ROOT, "apps/agent");
/**
 * The agent and the control plane's server run as built for production (apps/agent/scripts/build.mjs,
 * apps/web/scripts/build-server.mjs), rebuilt at every start (under a second each). The agent starts
 * through its launcher, which runs dist/main.mjs with the process settings it is deployed with.
 */
const AGENT_LAUNCHER = path.join(AGENT_DIR, "bin", "portcullis-agent");
const WEB_SERVER_BUNDLE = path.join(WEB_DIR, "dist", "server.mjs");
const HOST = env.PORTCULLIS_HOST;
const WEB_URL = `http://${HOST}:${env.PORTCULLIS_WEB_PORT}`;
const DEMO_CONNECTION = "demo";
const AGENT_NAME = "demo-agent";

interface TLauncherSecrets extends TDemoSecrets {
  authSecret: string;
  secretKey: string;
}

const children: ChildProcess[] = [];
const embedded: TEmbeddedPostgres[] = [];
let stopping = false;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function loadSecrets(): Promise<TLauncherSecrets> {
  const file = path.join(DATA_DIR, "demo-secrets.json");
  if (existsSync(file)) return JSON.parse(await readFile(file, "utf8")) as TLauncherSecrets;
  const secrets: TLauncherSecrets = {
    adminPassword: randomBytes(12).toString("base64url"),
    adminApiToken: generateToken("pcat"),
    developerToken: generateToken("pcat"),
    copilotToken: generateToken("pcat"),
    authSecret: randomBytes(32).toString("base64url"),
    secretKey: randomBytes(32).toString("base64url"),
  };
  // Like a dev-mode root token: kept for this machine only, readable by its owner only.
  await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

async function seedDemoDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ exists: boolean }>(
      "select to_regclass('public.customers') is not null as exists",
    );
    if (!rows[0]?.exists) await client.query(demoDatabaseSql());
  } finally {
    await client.end();
  }
}

/** Newest modification time under a directory, skipping build output and dependencies. */
async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (["node_modules", ".next", "dist"].includes(entry.name) || entry.name.startsWith(".turbo")) continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestMtime(full) : (await stat(full)).mtimeMs);
  }
  return newest;
}

async function buildWebIfNeeded(): Promise<void> {
  const buildId = path.join(WEB_DIR, ".next", "BUILD_ID");
  if (existsSync(buildId)) {
    const built = (await stat(buildId)).mtimeMs;
    const sources = Math.max(await newestMtime(WEB_DIR), await newestMtime(path.join(ROOT, "packages")));
    if (sources < built) return;
  }
  say("Building the dashboard (first start only, about a minute)...");
  await runToCompletion(
    "npx",
    ["--no-install", "next", "build"],
    WEB_DIR,
    path.join(DATA_DIR, "logs", "web-build.log"),
  );
}

function runToCompletion(command: string, args: string[], cwd: string, logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const log = createWriteStream(logFile);
    const child = spawn(command, args, {
      cwd,
      env: { ...inheritedEnvironment(), NEXT_TELEMETRY_DISABLED: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    child.on("exit", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${command} ${args.join(" ")} failed (exit ${code}); see ${logFile}`)),
    );
  });
}

/** Runs `command args` (node, or the agent's launcher) as one of the demo's long-lived processes. */
function startChild(
  name: string,
  command: string,
  args: string[],
  cwd: string,
  childEnv: Record<string, string>,
): ChildProcess {
  const logFile = path.join(DATA_DIR, "logs", `${name}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(command, args, {
    cwd,
    env: { ...inheritedEnvironment(), ...childEnv, NEXT_TELEMETRY_DISABLED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  child.on("exit", (code, signal) => {
    if (stopping) return;
    say(`The ${name} process stopped unexpectedly (${signal ?? `exit ${code}`}); see ${logFile}`);
    void shutdown(1);
  });
  children.push(child);
  return child;
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (stopping) throw new Error("stopped");
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${what} did not come up within ${Math.round(timeoutMs / 1000)} s; see ${path.join(DATA_DIR, "logs")}`,
  );
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
          setTimeout(() => child.kill("SIGKILL"), 8000).unref();
        }),
    ),
  );
  for (const db of embedded.reverse()) await db.stop().catch(() => undefined);
  process.exit(code);
}

async function main(): Promise<void> {
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));
  await mkdir(path.join(DATA_DIR, "logs"), { recursive: true });
  const secrets = await loadSecrets();

  let storeUrl = env.DATABASE_URL;
  if (!storeUrl) {
    const store = await startEmbeddedPostgres({ dataDir: path.join(DATA_DIR, "store") });
    embedded.push(store);
    storeUrl = store.url;
  }
  const demoDb = await startEmbeddedPostgres({ dataDir: path.join(DATA_DIR, "demo-db") });
  embedded.push(demoDb);
  await seedDemoDatabase(demoDb.url);

  await migrate(storeUrl);
  const db = createDb(storeUrl, { poolMax: 1 });
  const guardrails = [
    ...PRODUCTION_BASELINE,
    {
      name: "AI agents are read-only",
      priority: 25,
      action: "block" as const,
      message: "AI-agent identities may only read in production",
      match: { identityKinds: ["ai_agent"], classes: ["write", "ddl", "privilege"] },
    },
    {
      name: "Developer writes need approval",
      priority: 28,
      action: "require_approval" as const,
      message: "Every write by the developer needs an approval (demo policy)",
      match: { identities: [DEMO_IDENTITIES.developer.name], classes: ["write"] },
    },
  ].map((g) => ({ ...g, match: g.match as Record<string, unknown> }));
  await seedDemo(db, {
    secrets,
    agentName: AGENT_NAME,
    connection: {
      name: DEMO_CONNECTION,
      environment: "production",
      host: "127.0.0.1",
      port: demoDb.port,
      database: "postgres",
      username: "postgres",
    },
    guardrails,
    // PII is masked for everyone; exempt identities or groups from a rule in the dashboard.
    maskingRules: DEMO_MASKING_RULES,
  });
  const agentDir = path.join(DATA_DIR, "agent");
  const enrollment = existsSync(path.join(agentDir, "credential.json"))
    ? null
    : await issueEnrollmentToken(db, AGENT_NAME);
  await db.$disconnect();

  await buildWebIfNeeded();
  await runToCompletion(
    process.execPath,
    [path.join(WEB_DIR, "scripts", "build-server.mjs")],
    ROOT,
    path.join(DATA_DIR, "logs", "web-server-build.log"),
  );
  startChild("web", process.execPath, ["--enable-source-maps", WEB_SERVER_BUNDLE], WEB_DIR, {
    NODE_ENV: "production",
    DATABASE_URL: storeUrl,
    // PGlite has one backend session: one pooled connection keeps transactions from interleaving.
    DATABASE_POOL_MAX: env.DATABASE_URL ? "10" : "1",
    // ... and no second session to LISTEN on for other replicas' signals (there are none).
    PORTCULLIS_REPLICA_SIGNALS: env.DATABASE_URL ? "on" : "off",
    AUTH_SECRET: secrets.authSecret,
    PORTCULLIS_SECRET_KEY: secrets.secretKey,
    HOST,
    PORT: String(env.PORTCULLIS_WEB_PORT),
    PUBLIC_URL: WEB_URL,
    LOG_LEVEL: env.LOG_LEVEL,
  });
  await waitFor("The control plane", async () => (await fetch(`${WEB_URL}/api/health`)).ok, 120_000);

  const certificate = await ensureDemoCertificate(DATA_DIR, HOST);
  await runToCompletion(
    process.execPath,
    [path.join(AGENT_DIR, "scripts", "build.mjs")],
    ROOT,
    path.join(DATA_DIR, "logs", "agent-build.log"),
  );
  const agent = startChild("agent", AGENT_LAUNCHER, [], ROOT, {
    NODE: process.execPath,
    PORTCULLIS_CONTROL_PLANE_URL: WEB_URL,
    PORTCULLIS_TLS_CERT_FILE: certificate.certFile,
    PORTCULLIS_TLS_KEY_FILE: certificate.keyFile,
    ...(enrollment ? { PORTCULLIS_ENROLLMENT_TOKEN: enrollment.token } : {}),
    PORTCULLIS_AGENT_DATA_DIR: agentDir,
    PORTCULLIS_LISTEN_HOST: HOST,
    PORTCULLIS_LISTEN_PORT: String(env.PORTCULLIS_AGENT_PORT),
    LOG_LEVEL: env.LOG_LEVEL,
  });
  // Ready means the printed lines work: the agent is enrolled, holds its policy and listens.
  let agentReady = false;
  let tail = "";
  agent.stdout?.on("data", (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-4096);
    if (/"msg":"ready"/.test(tail)) agentReady = true;
  });
  await waitFor("The agent", async () => agentReady, 60_000);
  const developerUrl = `postgresql://${encodeURIComponent(DEMO_IDENTITIES.developer.name)}:${secrets.developerToken}@${HOST}:${env.PORTCULLIS_AGENT_PORT}/${DEMO_CONNECTION}`;
  const copilotUrl = `postgresql://${encodeURIComponent(DEMO_IDENTITIES.copilot.name)}:${secrets.copilotToken}@${HOST}:${env.PORTCULLIS_AGENT_PORT}/${DEMO_CONNECTION}`;

  say("");
  say("Portcullis is running (embedded demo). Press Ctrl-C to stop.");
  say("");
  say(`Dashboard: ${WEB_URL}  (${DEMO_IDENTITIES.admin.name} / ${secrets.adminPassword})`);
  say(`Admin API token: ${secrets.adminApiToken}`);
  say(`Developer: psql "${developerUrl}"`);
  say(`AI agent: psql "${copilotUrl}"`);
  say(`TLS: add ?sslmode=require to either URL (self-signed certificate: ${certificate.certFile})`);
  say("");
  say(
    "Try: select full_name, email from customers limit 5;   drop table customers;   update customers set city = city where id = 1;",
  );
  say(
    `Store: ${env.DATABASE_URL ? "DATABASE_URL" : path.join(DATA_DIR, "store")}   Logs: ${path.join(DATA_DIR, "logs")}`,
  );
}

main().catch((error: Error) => {
  say(`Portcullis failed to start: ${error.message}`);
  void shutdown(1);
});
