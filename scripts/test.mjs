// `npm test`: lint, typecheck, then the three tiers (unit, integration against the real local Postgres,
// end-to-end with Playwright and Debian's chromium). Ends with one summary line of all test counts.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const reports = path.join(root, ".tmp", "test-reports");
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });

const only = process.argv.slice(2);
const wanted = (step) => only.length === 0 || only.includes(step);
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
const failures = [];
const totals = { passed: 0, failed: 0, skipped: 0 };

function run(step, command, args, options = {}) {
  if (!wanted(step)) return;
  process.stdout.write(`\n=== ${step}: ${command} ${args.join(" ")}\n`);
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", env: { ...env, ...options.env } });
  process.stdout.write(
    `=== ${step}: ${result.status === 0 ? "ok" : "FAILED"} in ${Math.round((Date.now() - started) / 1000)} s\n`,
  );
  if (result.status !== 0) failures.push(step);
}

function countVitest(file) {
  if (!existsSync(file)) return;
  const report = JSON.parse(readFileSync(file, "utf8"));
  totals.passed += report.numPassedTests ?? 0;
  totals.failed += (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
  totals.skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}

function countPlaywright(file) {
  if (!existsSync(file)) return;
  const { stats } = JSON.parse(readFileSync(file, "utf8"));
  totals.passed += (stats.expected ?? 0) + (stats.flaky ?? 0);
  totals.failed += stats.unexpected ?? 0;
  totals.skipped += stats.skipped ?? 0;
}

run("lint", "npx", ["--no-install", "eslint", ".", "--max-warnings=0"]);
run("format", "npx", ["--no-install", "prettier", "--check", "."]);
run("typecheck", "npx", ["--no-install", "turbo", "run", "typecheck", "--output-logs=errors-only"]);
run("unit", "npx", [
  "--no-install",
  "vitest",
  "run",
  "--project",
  "unit",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${path.join(reports, "unit.json")}`,
]);
countVitest(path.join(reports, "unit.json"));
run("integration", "npx", [
  "--no-install",
  "vitest",
  "run",
  "--project",
  "integration",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${path.join(reports, "integration.json")}`,
]);
countVitest(path.join(reports, "integration.json"));
run("e2e", "npx", ["--no-install", "playwright", "test", "--config", "e2e/playwright.config.ts"], {
  env: { PLAYWRIGHT_JSON_OUTPUT_NAME: path.join(reports, "e2e.json") },
});
countPlaywright(path.join(reports, "e2e.json"));

if (failures.length > 0) process.stdout.write(`\nFailed steps: ${failures.join(", ")}\n`);
process.stdout.write(
  `\ntotal: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`,
);
process.exit(failures.length > 0 || totals.failed > 0 ? 1 : 0);
