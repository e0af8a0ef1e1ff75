// Run with tsx: migrates a control-plane store and seeds the demo records, with the connection pointing at
// an upstream database of the test's choosing. Prints the secrets and an enrollment token as JSON.
// (A separate process because the db package is ESM TypeScript with a generated client, run by tsx.)
import { createDb, generateToken, issueEnrollmentToken } from "@portcullis/db";
import { migrate } from "@portcullis/db/migrator";
import { seedDemo } from "@portcullis/db/seed-demo";
import { PRODUCTION_BASELINE } from "@portcullis/policy";

const [storeUrl, upstreamDatabase] = process.argv.slice(2);
if (!storeUrl || !upstreamDatabase)
  throw new Error("usage: seed-control-plane.ts <store url> <upstream database>");

await migrate(storeUrl);
const db = createDb(storeUrl, { poolMax: 1 });
const secrets = {
  adminPassword: "e2e-admin-password",
  adminApiToken: generateToken("pcat"),
  developerToken: generateToken("pcat"),
  copilotToken: generateToken("pcat"),
};
await seedDemo(db, {
  secrets,
  agentName: "e2e-agent",
  connection: {
    name: "shop",
    environment: "production",
    host: "127.0.0.1",
    port: 5432,
    database: upstreamDatabase,
    username: "postgres",
  },
  guardrails: PRODUCTION_BASELINE.map((g) => ({ ...g, match: g.match as Record<string, unknown> })),
});
const enrollment = await issueEnrollmentToken(db, "e2e-agent");
await db.$disconnect();
process.stdout.write(`${JSON.stringify({ ...secrets, enrollmentToken: enrollment.token })}\n`);
