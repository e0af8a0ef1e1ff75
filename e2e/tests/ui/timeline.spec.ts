// A person signs in to the dashboard and finds the statement they just ran in the timeline.
import path from "node:path";
import { expect, test } from "@playwright/test";
import { demo, psql } from "../../support/demos.ts";
import { ROOT } from "../../support/paths.ts";

test("the timeline shows a psql statement attributed to the developer, live", async ({ page }) => {
  const d = demo("embedded");
  await page.goto(`${d.dashboardUrl}/timeline`);
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel("Email").fill(d.adminEmail);
  await page.getByLabel("Password").fill(d.adminPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/timeline/);

  // Run the statement while the page is open: it must appear without a reload.
  const marker = `select count(*) from customers where city <> 'e2e-${Date.now()}'`;
  expect((await psql(d.developerUrl, marker)).ok).toBe(true);
  expect((await psql(d.developerUrl, "select count(*) from customers")).stdout).toBe("200");

  const row = page.getByTestId("audit-row").filter({ hasText: marker });
  await expect(row).toBeVisible({ timeout: 15_000 });
  await expect(row).toContainText("dev@demo.local");
  const plain = page
    .getByTestId("audit-row")
    .filter({ hasText: "select count(*) from customers" })
    .filter({ hasText: "dev@demo.local" });
  await expect(plain.first()).toBeVisible();

  await page.getByLabel("Search").fill("e2e-");
  await expect(page.getByTestId("audit-row").first()).toContainText(marker);
  await page.getByLabel("Search").fill("");
  await expect(page.getByTestId("audit-row").nth(2)).toBeVisible();
  // The session view: every event of the connection that ran the statement, from its details.
  await row.getByRole("button", { name: /Show details/ }).click();
  await row.getByRole("link").first().click();
  await expect(page).toHaveURL(/\/timeline\?session=[0-9a-f-]{36}/);
  await expect(page.getByText(/every event of this connection/)).toBeVisible();
  await expect(page.getByTestId("audit-row").filter({ hasText: marker })).toBeVisible();
  await expect(page.getByTestId("audit-row").filter({ hasText: "(session start)" })).toBeVisible();
  await page.getByRole("button", { name: "Show all sessions" }).click();
  await page.getByRole("button", { name: "Verify audit chain" }).click();
  await expect(page.getByText(/intact: [\d,]+ events checked/)).toBeVisible();
  await page.screenshot({ path: path.join(ROOT, "docs", "screenshots", "timeline.png") });
});

test("a wrong password keeps you out", async ({ page }) => {
  const d = demo("embedded");
  await page.goto(`${d.dashboardUrl}/login`);
  await page.getByLabel("Email").fill(d.adminEmail);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await expect(page).toHaveURL(/\/login/);
});

test.describe("before the page is interactive", () => {
  // The state between the server's HTML and hydration, held for good: scripts never run.
  test.use({ javaScriptEnabled: false });

  test("Enter in the password field does not send the password anywhere", async ({ page }) => {
    const d = demo("embedded");
    await page.goto(`${d.dashboardUrl}/login`);
    await page.getByLabel("Email").fill(d.adminEmail);
    await page.getByLabel("Password").fill(d.adminPassword);
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    await page.getByLabel("Password").press("Enter");
    // A native submit would have been a GET of /login?email=…&password=…; give it time to happen.
    await page.waitForTimeout(500);
    expect(requests).toEqual([]);
    expect(page.url()).toBe(`${d.dashboardUrl}/login`);
    await expect(page.getByRole("button", { name: "Sign in" })).toBeDisabled();
  });
});
