// An auditor's overview: what an AI agent just did shows up in the counts, the chart and the top lists.
import path from "node:path";
import { expect, test } from "@playwright/test";
import { demo, psql } from "../../support/demos.ts";
import { ROOT } from "../../support/paths.ts";
import { signInAsAdmin } from "../../support/sign-in.ts";

test("the overview counts the AI agent's refused statement and names what it touched", async ({ page }) => {
  const d = demo("embedded");
  await signInAsAdmin(page, d, "/overview");
  const refused = page.getByTestId("total-Blocked or denied");
  await expect(refused).toHaveText(/^[\d,]+$/);
  const before = Number((await refused.textContent())!.replaceAll(",", ""));

  // The read-only AI agent reads customers (masked) and tries to drop the table (blocked).
  expect((await psql(d.copilotUrl, "select email from customers limit 1")).ok).toBe(true);
  const drop = await psql(d.copilotUrl, "drop table customers");
  expect(drop.ok).toBe(false);

  await page.reload(); // rather than wait for the 30 s refresh
  await expect(refused).toHaveText(String(before + 1));
  const agentRow = page.getByTestId("activity-actor").filter({ hasText: "copilot@demo.local" });
  await expect(agentRow).toContainText("AI agent");
  await expect(page.getByTestId("activity-table").filter({ hasText: /^customers/ })).toBeVisible();
  // The current hour's bar says what happened in it.
  await expect(page.getByTestId("activity-bar").last().locator("title")).toContainText(/blocked or denied/);

  await page.getByRole("button", { name: "Last 7 days" }).click();
  await expect(page.getByRole("button", { name: "Last 7 days" })).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByTestId("activity-bar")).toHaveCount(28);
  await page.getByRole("button", { name: "Last 24 hours" }).click();
  await expect(page.getByTestId("activity-bar")).toHaveCount(24);
  await expect(page.getByRole("button", { name: "Last 24 hours" })).toHaveAttribute("aria-pressed", "true");
  await page.mouse.move(0, 0);
  // Transitions finished: the pressed button is drawn pressed.
  await page.screenshot({
    path: path.join(ROOT, "docs", "screenshots", "overview.png"),
    animations: "disabled",
  });
});
