// Starts the product the way the README says, `npm start`, twice: with the embedded store, and with
// DATABASE_URL pointing at a fresh database on the local Postgres. Tests read the printed lines.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { DEMOS_FILE, ROOT, TMP } from "./support/paths.ts";
import { parseDemoLines, type TDemo } from "./support/demos.ts";
import { NOTIFICATIONS_DEMO, notificationEnvironment } from "./support/notifications.ts";
import { OIDC_DEMO, oidcEnvironment } from "./support/oidc.ts";
import { start, type TRunning } from "./support/processes.ts";

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export default async function globalSetup(): Promise<() => Promise<void>> {
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true });
  const storeDb = `pc_e2e_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${storeDb}`);
  await admin.end();
  const storeUrl = new URL(ADMIN_URL);
  storeUrl.pathname = `/${storeDb}`;

  const launches: { mode: TDemo["mode"]; env: Record<string, string> }[] = [
    {
      mode: "embedded",
      env: {
        PORTCULLIS_DATA_DIR: path.join(TMP, "embedded"),
        PORTCULLIS_WEB_PORT: "3310",
        PORTCULLIS_AGENT_PORT: "6610",
      },
    },
    {
      mode: "postgres",
      env: {
        PORTCULLIS_DATA_DIR: path.join(TMP, "postgres"),
        PORTCULLIS_WEB_PORT: "3320",
        PORTCULLIS_AGENT_PORT: "6620",
        DATABASE_URL: storeUrl.toString(),
      },
    },
  ];
  // Single sign-on against the provider tests/ui/oidc.spec.ts starts (the other demo keeps password only).
  for (const launch of launches) if (launch.mode === OIDC_DEMO) Object.assign(launch.env, oidcEnvironment());
  // Approval notifications go to the receiver tests/ui/slack-approval.spec.ts starts.
  for (const launch of launches)
    if (launch.mode === NOTIFICATIONS_DEMO) Object.assign(launch.env, notificationEnvironment());
  const running: TRunning[] = [];
  const started: TDemo[] = [];
  const teardown = async () => {
    await Promise.all(running.map((r) => r.stop("SIGINT")));
    const cleanup = new pg.Client({ connectionString: ADMIN_URL });
    await cleanup.connect();
    await cleanup.query(`drop database if exists ${storeDb} with (force)`);
    await cleanup.end();
  };
  try {
    // One after the other: the first start builds the dashboard, the second reuses the build.
    for (const launch of launches) {
      const proc = start("npm", ["start"], {
        cwd: ROOT,
        env: { ...launch.env, LOG_LEVEL: "info" },
        logFile: path.join(TMP, `npm-start-${launch.mode}.log`),
      });
      running.push(proc);
      await proc.waitFor(/^AI agent: .*$/m, 240_000);
      const parsed = parseDemoLines(proc.output(), launch.mode);
      if (!parsed)
        throw new Error(`could not read the demo lines of the ${launch.mode} start:\n${proc.output()}`);
      // Tests that play an attacker with write access to the store (tampering) need to reach it.
      started.push(launch.env.DATABASE_URL ? { ...parsed, storeUrl: launch.env.DATABASE_URL } : parsed);
    }
  } catch (error) {
    await teardown();
    throw error;
  }
  writeFileSync(DEMOS_FILE, JSON.stringify(started, null, 2));
  return teardown;
}
