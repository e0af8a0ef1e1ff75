// Generates the Prisma client after `npm install`.
// Why the environment variable: the Prisma CLI downloads its schema-engine binary before every command and
// these machines cannot reach the download host. `prisma generate` never runs that engine, so pointing
// PRISMA_SCHEMA_ENGINE_BINARY at any existing file lets it proceed offline. This is the one place that
// workaround lives.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
  CHECKPOINT_DISABLE: "1",
};
const result = spawnSync("npx", ["--no-install", "prisma", "generate"], { cwd: root, env, stdio: "inherit" });
process.exit(result.status ?? 1);
