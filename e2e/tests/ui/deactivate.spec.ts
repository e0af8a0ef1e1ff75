// The kill switch: an admin deactivates an AI agent from the Identities page while it has a database session
// open through the Portcullis agent. The session ends within seconds, its token is revoked, and reactivating
// the identity does not bring that token back.
import { expect, test } from "@playwright/test";
import { demo, openPsql, psql, sessionEnd } from "../../support/demos.ts";
import { signInAsAdmin } from "../../support/sign-in.ts";

test("deactivating an identity on the Identities page ends its sessions; reactivating keeps its old token out", async ({
  page,
  request,
}) => {
  const d = demo("embedded");
  await signInAsAdmin(page, d, "/identities");
  const name = `e2e-rogue-${Date.now()}`;

  await page.getByRole("button", { name: "New service or AI agent" }).click();
  const create = page.getByRole("form", { name: "New identity" });
  await create.getByLabel("Name (the Postgres user)").fill(name);
  await create.getByLabel("Display name").fill("E2E rogue bot");
  await create.getByLabel("Kind").selectOption("ai_agent");
  await create.getByRole("button", { name: "Create" }).click();
  const listed = page.getByRole("button", { name: new RegExp(name) });
  await listed.click();
  const issue = page.getByRole("form", { name: "Issue token" });
  await issue.getByLabel("Token name").fill("e2e");
  await issue.getByRole("button", { name: "Issue token" }).click();
  const token = (await page.getByTestId("new-token").textContent())!.trim();

  const auth = { Authorization: `Bearer ${d.adminToken}` };
  const identities = (await (
    await request.get(`${d.dashboardUrl}/api/v1/identities`, { headers: auth })
  ).json()) as {
    items: { id: string; name: string }[];
  };
  const connections = (await (
    await request.get(`${d.dashboardUrl}/api/v1/connections`, { headers: auth })
  ).json()) as {
    items: { id: string; name: string }[];
  };
  const granted = await request.post(`${d.dashboardUrl}/api/v1/grants`, {
    headers: auth,
    data: {
      identityId: identities.items.find((i) => i.name === name)!.id,
      connectionId: connections.items.find((c) => c.name === "demo")!.id,
      reason: "e2e",
    },
  });
  expect(granted.status()).toBe(201);
  const url = new URL(d.copilotUrl);
  url.username = name;
  url.password = token;
  await expect
    .poll(async () => (await psql(url.toString(), "select 1")).stdout, { timeout: 15_000 })
    .toBe("1");
  const session = openPsql(url.toString());
  expect(await session.query("select 2")).toBe("2");

  page.once("dialog", (dialog) => void dialog.accept());
  await page.getByRole("button", { name: "Deactivate", exact: true }).click();
  await expect(listed).toContainText("deactivated");
  await expect(page.getByText("revoked", { exact: true })).toBeVisible();
  expect(await sessionEnd(session, 10_000)).toMatch(/revoked or has expired/);
  session.close();
  expect((await psql(url.toString(), "select 1")).ok).toBe(false);

  await page.getByRole("button", { name: "Reactivate", exact: true }).click();
  await expect(listed).not.toContainText("deactivated");
  await expect(page.getByRole("button", { name: "Deactivate", exact: true })).toBeVisible();
  expect((await psql(url.toString(), "select 1")).stderr).toMatch(/password authentication failed/);
});
