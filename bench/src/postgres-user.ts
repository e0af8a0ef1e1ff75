// PgBouncer and Postgres refuse to run as root. A bench run as root starts them as the postgres user, which
// must then own their directories.
import { chownSync } from "node:fs";
import { spawnSync } from "node:child_process";

export const RUNNING_AS_ROOT = process.getuid?.() === 0;

/** Gives `paths` to the postgres user (only needed, and only possible, when running as root). */
export function chownToPostgres(paths: string[]): void {
  const uid = Number(spawnSync("id", ["-u", "postgres"]).stdout.toString().trim());
  const gid = Number(spawnSync("id", ["-g", "postgres"]).stdout.toString().trim());
  for (const p of paths) chownSync(p, uid, gid);
}
