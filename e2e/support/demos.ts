// The demos started by global-setup, as their printed lines describe them.
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { DEMOS_FILE } from "./paths.ts";

export interface TDemo {
  mode: "embedded" | "postgres";
  dashboardUrl: string;
  adminEmail: string;
  adminPassword: string;
  adminToken: string;
  developerUrl: string;
  copilotUrl: string;
  /** The control plane's store, for the postgres-store demo. */
  storeUrl?: string;
}

export function demos(): TDemo[] {
  return JSON.parse(readFileSync(DEMOS_FILE, "utf8")) as TDemo[];
}

export function demo(mode: TDemo["mode"]): TDemo {
  const found = demos().find((d) => d.mode === mode);
  if (!found) throw new Error(`demo ${mode} is not running`);
  return found;
}

/** Parses the four lines `npm start` prints. */
export function parseDemoLines(output: string, mode: TDemo["mode"]): TDemo | null {
  const dashboard = /^Dashboard: (\S+)\s+\((\S+) \/ (\S+)\)$/m.exec(output);
  const token = /^Admin API token: (\S+)$/m.exec(output);
  const developer = /^Developer: psql "([^"]+)"$/m.exec(output);
  const copilot = /^AI agent: psql "([^"]+)"$/m.exec(output);
  if (!dashboard || !token || !developer || !copilot) return null;
  return {
    mode,
    dashboardUrl: dashboard[1]!,
    adminEmail: dashboard[2]!,
    adminPassword: dashboard[3]!,
    adminToken: token[1]!,
    developerUrl: developer[1]!,
    copilotUrl: copilot[1]!,
  };
}

const execFileAsync = promisify(execFile);

/** Runs one command with the real psql, as a user pasting the printed line would. */
export async function psql(
  url: string,
  sql: string,
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync("psql", [url, "-v", "ON_ERROR_STOP=1", "-tAc", sql], {
      timeout: 30_000,
    });
    return { ok: true, stdout: stdout.trim(), stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, stdout: (e.stdout ?? "").trim(), stderr: e.stderr ?? String(error) };
  }
}

/** A psql session kept open, fed statements one by one like a person typing them. */
export interface TPsqlSession {
  query(sql: string): Promise<string>;
  close(): void;
}

export function openPsql(url: string): TPsqlSession {
  const child = spawn("psql", [url, "-X", "-q", "-tA"], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  let sequence = 0;
  return {
    async query(sql) {
      // psql answers in order; the echoed marker says this statement's output is complete.
      const marker = `__portcullis_e2e_${++sequence}__`;
      const start = output.length;
      child.stdin.write(`${sql};\n\\echo ${marker}\n`);
      const deadline = Date.now() + 15_000;
      while (!output.includes(marker, start)) {
        if (child.exitCode !== null) throw new Error(`psql exited: ${output.slice(start)}`);
        if (Date.now() > deadline) throw new Error(`psql did not answer: ${output.slice(start)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return output.slice(start, output.indexOf(marker, start)).trim();
    },
    close() {
      child.stdin.end();
    },
  };
}

/**
 * Waits until the server ends an open session (its next query fails) and returns what psql printed then;
 * null when the session was still alive after `timeoutMs`.
 */
export async function sessionEnd(session: TPsqlSession, timeoutMs: number): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await session.query("select 1");
    } catch (error) {
      return (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return null;
}
