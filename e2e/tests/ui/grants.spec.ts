// An admin gives a new AI agent access to the demo database from the Identities page, the agent connects
// with its token through the Portcullis agent, and revoking the grant ends that access.
import path from "node:path";
import { expect, test } from "@playwright/test";
import { demo, psql } from "../../support/demos.ts";
import { ROOT } from "../../support/paths.ts";
import { signInAsAdmin } from "../../support/sign-in.ts";

test("a grant made and revoked on the Identities page opens and closes the database to that identity", async ({
  page,
}) => {
  const d = demo("embedded");
  await signInAsAdmin(page, d, "/identities");
  const name = `e2e-bot-${Date.now()}`;

  await page.getByRole("button", { name: "New service or AI agent" }).click();
  const create = page.getByRole("form", { name: "New identity" });
  await create.getByLabel("Name (the Postgres user)").fill(name);
  await create.getByLabel("Display name").fill("E2E reporting bot");
  await create.getByLabel("Kind").selectOption("ai_agent");
  await create.getByRole("button", { name: "Create" }).click();
  await page.getByRole("button", { name: new RegExp(name) }).click();
  const issue = page.getByRole("form", { name: "Issue token" });
  await issue.getByLabel("Token name").fill("e2e");
  await issue.getByRole("button", { name: "Issue token" }).click();
  const token = (await page.getByTestId("new-token").textContent())!.trim();

  // The agent's address from the demo's own connection string, with this identity's name and token.
  const url = new URL(d.copilotUrl);
  url.username = name;
  url.password = token;
  const run = () => psql(url.toString(), "select count(*) from orders");
  expect((await run()).ok).toBe(false); // no grant yet

  const form = page.getByRole("form", { name: "Grant access" });
  await form.getByLabel("Connection").selectOption({ label: "demo (production)" });
  await form.getByLabel("Identity").selectOption({ label: name });
  await form.getByLabel("For").selectOption({ label: "8 hours" });
  await form.getByLabel("Reason").fill("weekly report");
  await form.getByRole("button", { name: "Grant access" }).click();
  const row = page.getByTestId("grant-row").filter({ hasText: name }).filter({ hasText: "AI agent" });
  await expect(row).toBeVisible();
  await expect(row).toContainText("weekly report · by admin@demo.local");
  await expect.poll(async () => (await run()).ok, { timeout: 15_000 }).toBe(true);

  // A group grant is listed with its member count (nobody has signed in from it).
  await form.getByLabel("To").selectOption("group");
  await form.getByLabel("Group").fill(`${name}-oncall`);
  await form.getByRole("button", { name: "Grant access" }).click();
  const groupRow = page.getByTestId("grant-row").filter({ hasText: `${name}-oncall` });
  await expect(groupRow).toContainText("group · 0 members");
  // Another identity's panel must not show the token just issued to this one.
  await page.getByRole("button", { name: /^dev@demo\.local/ }).click();
  await expect(page.getByRole("heading", { name: "API tokens of dev@demo.local" })).toBeVisible();
  await expect(page.getByTestId("new-token")).toHaveCount(0);
  await page.screenshot({ path: path.join(ROOT, "docs", "screenshots", "grants.png"), fullPage: true });

  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(row).toHaveCount(0);
  await expect.poll(async () => (await run()).ok, { timeout: 15_000 }).toBe(false);
  expect((await run()).stderr).toMatch(/FATAL/);
  await groupRow.getByRole("button", { name: "Revoke" }).click();
  await expect(groupRow).toHaveCount(0);
});
