// An approver follows the link the waiting psql session printed, sees the exact statement and who asked,
// approves it in the browser, and the held statement completes in that session.
import { spawn } from "node:child_process";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { demo } from "../../support/demos.ts";
import { ROOT } from "../../support/paths.ts";

test("the approval link from the NOTICE opens the request; approving it completes the held statement", async ({
  page,
}) => {
  const d = demo("embedded");
  const statement = "update customers set city = city where id = 3";
  const child = spawn("psql", [d.developerUrl, "-X", "-c", statement]);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const finished = new Promise<number | null>((resolve) => child.on("close", resolve));

  await expect
    .poll(() => /Approve or deny it at (\S+)/.exec(stderr)?.[1] ?? null, { timeout: 10_000 })
    .not.toBeNull();
  const link = /Approve or deny it at (\S+)/.exec(stderr)![1]!;
  expect(link).toMatch(new RegExp(`^${d.dashboardUrl}/approvals/[0-9a-f-]{36}$`));

  await page.setViewportSize({ width: 420, height: 900 }); // an approver on a phone
  await page.goto(link);
  await page.getByLabel("Email").fill(d.adminEmail);
  await page.getByLabel("Password").fill(d.adminPassword);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByTestId("held-statement")).toHaveText(statement);
  await expect(page.getByText("dev@demo.local")).toBeVisible();
  await expect(page.getByText("Developer writes need approval")).toBeVisible();
  await page.getByLabel("Reason (sent to the requester)").fill("looks harmless");
  await page.screenshot({ path: path.join(ROOT, "docs", "screenshots", "approval.png") });
  await page.getByRole("button", { name: "Approve" }).click();
  await expect(page.getByText("approved", { exact: true }).first()).toBeVisible();

  expect(await finished).toBe(0);
  expect(stdout.trim()).toBe("UPDATE 1");
});
