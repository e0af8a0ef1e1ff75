// Signs a demo's admin in with the password form, starting from `target`, and waits to land back on it.
import { expect, type Page } from "@playwright/test";
import type { TDemo } from "./demos.ts";

export async function signInAsAdmin(page: Page, d: TDemo, target: string): Promise<void> {
  await page.goto(`${d.dashboardUrl}${target}`);
  await page.getByLabel("Email").fill(d.adminEmail);
  await page.getByLabel("Password").fill(d.adminPassword);
  // Exact: the postgres demo also offers "Sign in with <provider>" (oidc.spec.ts).
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(target));
}
