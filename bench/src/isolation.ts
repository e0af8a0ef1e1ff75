// `npm run bench -- --isolate-control-plane`: what the agent costs when its control plane and audit store run
// elsewhere, approximated on one machine. The control plane and a private Postgres cluster for its store
// get the last core; pgbench, the bench's Postgres, PgBouncer and the agent share the others. Linux only;
// pinning the machine's Postgres needs root (or its owner), and is undone when the bench ends.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chownToPostgres, RUNNING_AS_ROOT } from "./postgres-user.ts";

export interface TIsolation {
  /** Cores (taskset list) for the control plane and its store, and for everything else. */
  controlCores: string;
  dataCores: string;
}

export function isolationCores(): TIsolation {
  const n = os.cpus().length;
  if (n < 2) throw new Error("--isolate-control-plane needs at least 2 cores");
  return { controlCores: String(n - 1), dataCores: n === 2 ? "0" : `0-${n - 2}` };
}

function taskset(cores: string, pid: number): void {
  // -a: every thread of the process (Postgres has one, the control plane several).
  const result = spawnSync("taskset", ["-a", "-p", "-c", cores, String(pid)], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`taskset ${cores} ${pid} failed: ${result.stderr}`);
}

/** Pins a running Postgres (postmaster and its current children; new backends inherit) and returns the undo. */
export function pinPostgres(dataDirectory: string, cores: string): () => void {
  const postmaster = Number(readFileSync(path.join(dataDirectory, "postmaster.pid"), "utf8").split("\n")[0]);
  const family = () => [
    postmaster,
    ...spawnSync("ps", ["--ppid", String(postmaster), "-o", "pid="], { encoding: "utf8" })
      .stdout.split("\n")
      .map((s) => Number(s.trim()))
      .filter((pid) => pid > 0),
  ];
  for (const pid of family()) taskset(cores, pid);
  const all = `0-${os.cpus().length - 1}`;
  return () => {
    for (const pid of family()) {
      try {
        taskset(all, pid);
      } catch {
        // a backend that ended meanwhile
      }
    }
  };
}

/** Pins this process; the processes it starts afterwards inherit the mask. */
export function pinSelf(cores: string): void {
  taskset(cores, process.pid);
}

function postgresBinary(name: string): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const candidate = path.join(root, v, "bin", name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} not found under ${root} (apt-get install postgresql)`);
}

/** A throwaway Postgres cluster for the audit store, on `port`, pinned to `cores`. */
export function startPrivateStore(dir: string, port: number, cores: string): ChildProcess {
  mkdirSync(dir, { recursive: true });
  const runAs = (argv: string[]) => (RUNNING_AS_ROOT ? ["runuser", "-u", "postgres", "--", ...argv] : argv);
  if (RUNNING_AS_ROOT) {
    chmodSync(path.dirname(dir), 0o755); // mkdtemp's 0700 would keep the postgres user out
    chownToPostgres([dir]);
  }
  const [initCmd, ...initArgs] = runAs([
    postgresBinary("initdb"),
    "-D",
    dir,
    "-A",
    "trust",
    "-U",
    "postgres",
  ]);
  const init = spawnSync(initCmd!, initArgs, { encoding: "utf8" });
  if (init.status !== 0) throw new Error(`initdb failed:\n${init.stderr}`);
  const child = spawn(
    "taskset",
    [
      "-c",
      cores,
      ...runAs([
        postgresBinary("postgres"),
        "-D",
        dir,
        "-p",
        String(port),
        "-k",
        dir,
        "-c",
        "listen_addresses=127.0.0.1",
      ]),
    ],
    { stdio: "ignore" },
  );
  return child;
}
