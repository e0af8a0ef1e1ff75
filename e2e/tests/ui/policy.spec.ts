// An admin edits masking in the dashboard while a developer's psql session stays open: the session's next
// query already obeys the change (the agent gets the new policy over its link within a second).
import path from "node:path";
import { expect, test } from "@playwright/test";
import { demo, openPsql } from "../../support/demos.ts";
import { ROOT } from "../../support/paths.ts";
import { signInAsAdmin } from "../../support/sign-in.ts";

test("a masking rule saved in the policy editor changes what an open psql session sees next", async ({
  page,
}) => {
  // The postgres-store demo: the API tests read the embedded one's customers columns meanwhile.
  const d = demo("postgres");
  const session = openPsql(d.developerUrl);
  try {
    const backend = await session.query("select pg_backend_pid()");
    const product = await session.query("select product from orders where id = 1");
    expect(product).not.toBe("");
    expect(product).not.toContain("REDACTED");

    await signInAsAdmin(page, d, "/policy");
    await expect(page.getByRole("heading", { name: "Masking rules" })).toBeVisible();
    await expect(page.getByText("Mask customer emails", { exact: true })).toBeVisible();
    // The access simulator: who holds a valid credential, and what the guardrails would do with their risky statements.
    const simulation = page.getByTestId("access-simulation");
    await expect(simulation.getByRole("row", { name: /dev@demo\.local/ })).toContainText("block");
    await expect(simulation.getByRole("row", { name: /copilot@demo\.local/ })).toContainText("ai agent");
    await page.getByRole("button", { name: "Add masking rule" }).click();
    const form = page.getByRole("form", { name: "Masking rule" });
    await form.getByLabel("Name").fill("Mask product names");
    await form.getByLabel("Column (table.column, * for any)").fill("orders.product");
    await form.getByLabel("Strategy").selectOption("redact");
    await form.getByRole("button", { name: "Save" }).click();
    await expect(form).toBeHidden();
    const rule = page.getByRole("listitem").filter({ hasText: "Mask product names" });
    await expect(rule).toContainText("orders.product");

    // Same session, next statement: masked.
    await expect
      .poll(() => session.query("select product from orders where id = 1"), { timeout: 10_000 })
      .not.toBe(product);
    expect(await session.query("select product from orders where id = 1")).toMatch(/REDACTED|\*/);
    expect(await session.query("select pg_backend_pid()")).toBe(backend);

    // The preview explains it with the same engine.
    await page.getByLabel("Statement").fill("select product, quantity from orders");
    await expect(page.getByTestId("preview-result")).toContainText("Masked: orders.product");
    await page.screenshot({ path: path.join(ROOT, "docs", "screenshots", "policy-editor.png") });

    // The change is in the timeline, attributed to the admin.
    await page.goto(`${d.dashboardUrl}/timeline`);
    await page.getByLabel("Search").fill("Mask product names");
    await expect(page.getByTestId("audit-row").first()).toContainText("created masking rule");

    // Deleting it unmasks the same session's next query.
    await page.goto(`${d.dashboardUrl}/policy`);
    await page.getByRole("button", { name: "Edit Mask product names" }).click();
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("form", { name: "Masking rule" }).getByRole("button", { name: "Delete" }).click();
    await expect(page.getByRole("listitem").filter({ hasText: "Mask product names" })).toBeHidden();
    await expect(page.getByTestId("access-simulation")).not.toContainText("Mask product names");
    await expect
      .poll(() => session.query("select product from orders where id = 1"), { timeout: 10_000 })
      .toBe(product);
  } finally {
    session.close();
  }
});

test("a guardrail can ask for two approvers from one group", async ({ page }) => {
  const d = demo("postgres");
  await signInAsAdmin(page, d, "/policy");
  await page.getByRole("button", { name: "Add guardrail" }).click();
  const form = page.getByRole("form", { name: "Guardrail" });
  await form.getByLabel("Name").fill("Four eyes on e2e_ledger");
  await form.getByLabel("Priority").fill("7");
  // The approver fields belong to require_approval only.
  await expect(form.getByLabel("Approvals needed")).toBeHidden();
  await form.getByLabel("Action").selectOption("require_approval");
  await form.getByLabel("Approvals needed").fill("2");
  await form.getByLabel("Approver group").fill("dba");
  // The demo has nobody in dba: the form says requests would wait for approvers who do not exist yet.
  await expect(form.getByRole("status").filter({ hasText: "dba" })).toHaveText(
    "No approvers are in dba now: until 2 are, requests under this rule expire undecided.",
  );
  await form.getByLabel("Message shown to the client").fill("Two DBAs approve writes to the ledger");
  // A table no other test touches: the rule must not hold anyone else's statements.
  await form.locator("#guardrail-match").fill('{"tables": ["e2e_ledger"], "classes": ["write"]}');
  await form.getByRole("button", { name: "Save" }).click();
  await expect(form).toBeHidden();
  const rule = page.getByRole("listitem").filter({ hasText: "Four eyes on e2e_ledger" });
  await expect(rule).toContainText("2 approvers from dba");

  // Saved as entered: the form shows it back.
  await page.getByRole("button", { name: "Edit Four eyes on e2e_ledger" }).click();
  const edit = page.getByRole("form", { name: "Guardrail" });
  await expect(edit.getByLabel("Approvals needed")).toHaveValue("2");
  await expect(edit.getByLabel("Approver group")).toHaveValue("dba");
  page.once("dialog", (dialog) => void dialog.accept());
  await edit.getByRole("button", { name: "Delete" }).click();
  await expect(rule).toBeHidden();
});
