// The control plane goes away while psql sessions run through the agent: the agent keeps serving them,
// spools every audit event (across its own restart too), and delivers each exactly once when the control
// plane is back. Runs against the local Postgres (DATABASE_URL) with real web and agent processes.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { expect, test } from "@playwright/test";
import pg from "pg";
import { ROOT, TMP } from "../../support/paths.ts";
import { start, type TRunning } from "../../support/processes.ts";

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const WEB_PORT = 3330;
const AGENT_PORT = 6630;

function dbUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

test("no audit event is lost or doubled when the control plane dies mid-session", async () => {
  test.setTimeout(180_000);
  const suffix = randomBytes(4).toString("hex");
  const storeName = `pc_e2e_res_store_${suffix}`;
  const upstreamName = `pc_e2e_res_up_${suffix}`;
  const workDir = path.join(TMP, `resilience-${suffix}`);
  mkdirSync(workDir, { recursive: true });

  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${storeName}`);
  await admin.query(`create database ${upstreamName}`);
  const upstream = new pg.Client({ connectionString: dbUrl(upstreamName) });
  await upstream.connect();
  await upstream.query(
    "create table customers (id serial primary key, email text); insert into customers (email) select 'c' || g || '@example.com' from generate_series(1, 10) g",
  );
  await upstream.end();

  const { stdout } = await promisify(execFile)(
    "npx",
    ["--no-install", "tsx", "e2e/support/seed-control-plane.ts", dbUrl(storeName), upstreamName],
    { cwd: ROOT },
  );
  const seeded = JSON.parse(stdout.trim().split("\n").at(-1)!) as {
    developerToken: string;
    enrollmentToken: string;
  };

  const webEnv = {
    NODE_ENV: "production",
    DATABASE_URL: dbUrl(storeName),
    AUTH_SECRET: randomBytes(32).toString("hex"),
    PORTCULLIS_SECRET_KEY: randomBytes(32).toString("hex"),
    HOST: "127.0.0.1",
    PORT: String(WEB_PORT),
    PUBLIC_URL: `http://127.0.0.1:${WEB_PORT}`,
  };
  const agentEnv = {
    PORTCULLIS_CONTROL_PLANE_URL: `http://127.0.0.1:${WEB_PORT}`,
    PORTCULLIS_AGENT_DATA_DIR: path.join(workDir, "agent"),
    PORTCULLIS_LISTEN_PORT: String(AGENT_PORT),
  };
  const startWeb = async () => {
    const web = start(process.execPath, ["--import", "tsx", "server.ts"], {
      cwd: path.join(ROOT, "apps/web"),
      env: webEnv,
      logFile: path.join(workDir, "web.log"),
    });
    await web.waitFor(/listening on http/, 60_000);
    return web;
  };
  const startAgent = async (enrollmentToken?: string) => {
    const agent = start(process.execPath, ["--import", "tsx", "apps/agent/src/main.ts"], {
      cwd: ROOT,
      env: { ...agentEnv, ...(enrollmentToken ? { PORTCULLIS_ENROLLMENT_TOKEN: enrollmentToken } : {}) },
      logFile: path.join(workDir, "agent.log"),
    });
    await agent.waitFor(/"msg":"ready"/, 60_000);
    return agent;
  };

  let store: pg.Client | null = null;
  let web: TRunning | null = await startWeb();
  let agent: TRunning | null = await startAgent(seeded.enrollmentToken);
  const clientUrl = `postgresql://dev%40demo.local:${seeded.developerToken}@127.0.0.1:${AGENT_PORT}/shop`;
  const connect = async () => {
    const client = new pg.Client({ connectionString: clientUrl });
    client.on("error", () => undefined); // sessions are ended by the agent's restart below
    await client.connect();
    return client;
  };
  const markers: string[] = [];
  const runMarkers = async (client: pg.Client, phase: string, n: number) => {
    for (let i = 0; i < n; i++) {
      const marker = `res-${suffix}-${phase}-${i}`;
      const { rows } = await client.query(`select '${marker}' as marker, count(*)::int as n from customers`);
      expect(rows).toEqual([{ marker, n: 10 }]);
      markers.push(marker);
    }
  };

  try {
    const sessions = await Promise.all([connect(), connect(), connect()]);
    await Promise.all(sessions.map((s, i) => runMarkers(s, `before-${i}`, 5)));

    // The control plane dies hard.
    await web.stop("SIGKILL");
    web = null;
    await Promise.all(sessions.map((s, i) => runMarkers(s, `during-${i}`, 5)));
    const late = await connect(); // new sessions still work on the agent's last policy
    await runMarkers(late, "during-new", 5);

    // The agent restarts while the control plane is still down: its spool and cached policy carry over.
    await agent.stop("SIGTERM");
    agent = await startAgent();
    const afterRestart = await connect();
    await runMarkers(afterRestart, "after-agent-restart", 5);
    await afterRestart.end();

    web = await startWeb();
    store = new pg.Client({ connectionString: dbUrl(storeName) });
    store.on("error", () => undefined);
    await store.connect();
    const count = async () =>
      (
        await store!.query<{ total: number; distinct_ids: number; distinct_statements: number }>(
          `select count(*)::int as total, count(distinct id)::int as distinct_ids, count(distinct statement)::int as distinct_statements
           from audit_events where type = 'statement' and statement like $1`,
          [`select 'res-${suffix}-%`],
        )
      ).rows[0]!;
    await expect.poll(async () => (await count()).total, { timeout: 60_000 }).toBe(markers.length);
    // Give any straggler (a doubled delivery) time to show up before asserting none did.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await count()).toEqual({
      total: markers.length,
      distinct_ids: markers.length,
      distinct_statements: markers.length,
    });
    expect(markers).toHaveLength(40); // 3 sessions x 5 before, 3 x 5 during, 5 on a new session, 5 after the agent restart

    const sessionsSeen = await store.query<{ type: string; n: number }>(
      "select type, count(*)::int as n from audit_events where type in ('session_start','session_end') and client_addr is not null group by type order by type",
    );
    // 5 sessions: 3 first, 1 opened while the control plane was down, 1 after the agent restarted.
    expect(sessionsSeen.rows).toEqual([
      { type: "session_end", n: 5 },
      { type: "session_start", n: 5 },
    ]);
  } finally {
    await store?.end().catch(() => undefined);
    await agent?.stop("SIGTERM");
    await web?.stop("SIGTERM");
    await admin.query(`drop database if exists ${storeName} with (force)`);
    await admin.query(`drop database if exists ${upstreamName} with (force)`);
    await admin.end();
  }
});
