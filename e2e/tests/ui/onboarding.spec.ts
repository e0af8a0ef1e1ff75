// An admin onboards the machine's Postgres as a new `staging` connection with the wizard: tested and
// scanned through the agent, discovered masking accepted, a developer granted. The developer's psql through
// the agent then sees masked values.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { expect, test } from "@playwright/test";
import pg from "pg";
import { demo, psql } from "../../support/demos.ts";
import { ROOT } from "../../support/paths.ts";
import { signInAsAdmin } from "../../support/sign-in.ts";

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const database = `pc_e2e_onboard_${randomBytes(4).toString("hex")}`;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

test.beforeAll(async () => {
  await admin(`create database ${database}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  await client.query(`
    create table customers (id int primary key, full_name text, email text, ssn text, signup_note text);
    insert into customers
    select g, 'Customer ' || g, 'person' || g || '@example.org', lpad((100 + g)::text, 3, '0') || '-45-' || lpad((1000 + g)::text, 4, '0'), 'joined in spring'
    from generate_series(1, 25) g;`);
  await client.end();
});

test.afterAll(async () => {
  await admin(`drop database if exists ${database} with (force)`);
});

test("the wizard onboards a database; the granted developer's psql sees it masked", async ({
  page,
  request,
}) => {
  const d = demo("postgres");
  await signInAsAdmin(page, d, "/connections/new");

  await expect(page.getByLabel("Agent next to the database")).toContainText("(online)");
  await page.getByLabel("Host").fill("127.0.0.1");
  await page.getByLabel("Port").fill("5432");
  await page.getByLabel("Database", { exact: true }).fill(database);
  await page.getByLabel("User").fill("postgres");
  await page.getByRole("button", { name: "Test connection through the agent" }).click();
  await expect(page.getByText(/Connected: PostgreSQL \d+/)).toBeVisible();

  await page.getByRole("button", { name: "Scan for sensitive data" }).click();
  const suggestions = page.getByRole("list", { name: "Suggested masking" });
  await expect(suggestions).toContainText("customers.email");
  await expect(suggestions).toContainText("customers.ssn");
  await expect(suggestions).not.toContainText("customers.signup_note");

  await page.getByLabel("Connection name (the database name clients use)").fill("staging");
  await page.getByLabel("Environment", { exact: true }).selectOption("staging");
  await page.getByLabel("dev@demo.local").check();
  await page.getByLabel(/And every member of these groups/).fill("staging-readers");
  // Tall enough for the whole wizard (a full-page capture would repeat the sticky header mid-page).
  await page.setViewportSize({ width: 1400, height: 1400 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(ROOT, "docs", "screenshots", "onboarding-wizard.png") });
  await page.getByRole("button", { name: "Create connection" }).click();
  await expect(page.getByText('Connection "staging" (staging) is ready')).toBeVisible();
  const grants = (await (
    await request.get(`${d.dashboardUrl}/api/v1/grants`, {
      headers: { Authorization: `Bearer ${d.adminToken}` },
    })
  ).json()) as { items: { grantee: { type: string; name: string }; connection: { name: string } }[] };
  expect(
    grants.items
      .filter((g) => g.connection.name === "staging")
      .map((g) => `${g.grantee.type}:${g.grantee.name}`)
      .sort(),
  ).toEqual(["group:staging-readers", "identity:dev@demo.local"]);

  // The developer's own token, the new connection's name: masked through the agent.
  const developerStaging = d.developerUrl.replace(/\/demo$/, "/staging");
  await expect
    .poll(
      async () => (await psql(developerStaging, "select email, ssn from customers where id = 1")).stdout,
      {
        timeout: 15_000,
      },
    )
    .toMatch(/^p\*+@example\.org\|\*+(-\*+-1001)?$/); // email partial; SSN per the accepted suggestion
  expect((await psql(developerStaging, "select ssn from customers")).stdout).not.toContain("-45-");
  // Columns nothing was found in stay readable.
  const plain = await psql(developerStaging, "select signup_note from customers where id = 1");
  expect(plain.stdout).toBe("joined in spring");
  // Baseline guardrails came with it.
  const drop = await psql(developerStaging, "drop table customers");
  expect(drop.ok).toBe(false);
  expect(drop.stderr).toContain("Portcullis blocked this statement");
});
