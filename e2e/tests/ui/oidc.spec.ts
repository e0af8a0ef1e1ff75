// Single sign-on against a real OpenID provider started by this test: people sign in with the dashboard's
// button, and the groups the provider sends decide what they may do (portcullis-approvers → approver,
// portcullis-admins → admin, anything else → member), and which connections a grant to a group opens.
import { expect, test, type Page } from "@playwright/test";
import { demo, psql } from "../../support/demos.ts";
import {
  OIDC_DEMO,
  OIDC_DISPLAY_NAME,
  OIDC_ISSUER,
  startOidcProvider,
  type TRunningProvider,
} from "../../support/oidc.ts";

const ACCOUNTS = {
  ada: {
    email: "ada.approver@sso.example",
    name: "Ada Approver",
    groups: ["portcullis-approvers", "engineering"],
  },
  max: { email: "max.admin@sso.example", name: "Max Admin", groups: ["portcullis-admins"] },
  cleo: { email: "cleo.contractor@sso.example", name: "Cleo Contractor", groups: ["contractors"] },
  gus: { email: "gus.oncall@sso.example", name: "Gus Oncall", groups: ["db-oncall"] },
};

const ssoButton = (page: Page) => page.getByRole("button", { name: `Sign in with ${OIDC_DISPLAY_NAME}` });

let provider: TRunningProvider | undefined;

test.beforeAll(async () => {
  provider = await startOidcProvider(demo(OIDC_DEMO).dashboardUrl, ACCOUNTS);
});

test.afterAll(async () => {
  await provider?.close();
});

test.beforeEach(async ({ page }) => {
  // The provider's development pages import a web font; nothing outside loopback is reachable here.
  await page.route(/fonts\.googleapis\.com/, (route) => route.abort());
});

/** Opens `target`, is sent to the login page, and goes through the provider's sign-in and consent pages. */
async function signInWithSso(page: Page, login: keyof typeof ACCOUNTS, target: string) {
  const d = demo(OIDC_DEMO);
  await page.goto(`${d.dashboardUrl}${target}`);
  await expect(page).toHaveURL(/\/login/);
  await ssoButton(page).click();
  await signInAtProvider(page, login);
  await expect(page).toHaveURL(`${d.dashboardUrl}${target}`);
  await expect(page.getByText(ACCOUNTS[login].email)).toBeVisible();
}

async function signInAtProvider(page: Page, login: string) {
  await expect(page).toHaveURL(new RegExp(`^${OIDC_ISSUER}/interaction/`));
  await page.getByPlaceholder("Enter any login").fill(login);
  await page.getByPlaceholder("and password").fill("password-the-provider-checks");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
}

test("an approver-group member signs in with the keyboard and may read, not change, the policy", async ({
  page,
}) => {
  const d = demo(OIDC_DEMO);
  await page.goto(`${d.dashboardUrl}/policy`);
  await expect(page).toHaveURL(/\/login/);
  // The email field has focus; the single sign-on button is one step back, and Enter starts it.
  await expect(page.getByLabel("Email")).toBeFocused();
  // The buttons are disabled until the page is interactive; a click before that used to be lost.
  await expect(ssoButton(page)).toBeEnabled();
  await page.keyboard.press("Shift+Tab");
  await expect(ssoButton(page)).toBeFocused();
  await page.keyboard.press("Enter");
  await signInAtProvider(page, "ada");

  await expect(page).toHaveURL(`${d.dashboardUrl}/policy`);
  await expect(page.getByText("Ada Approver")).toBeVisible();
  await expect(page.getByText("ada.approver@sso.example")).toBeVisible();
  await expect(page.getByRole("heading", { name: "Masking rules" })).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: "Only admins change rules" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Add masking rule" })).toHaveCount(0);
});

test("an admin-group member gets the editor, and the sign-in that made them admin is in the timeline", async ({
  page,
}) => {
  await signInWithSso(page, "max", "/policy");
  await expect(page.getByRole("heading", { name: "Masking rules" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Add masking rule" })).toBeVisible();
  await expect(page.getByText("Only admins change rules")).toHaveCount(0);

  await page.goto(`${demo(OIDC_DEMO).dashboardUrl}/timeline`);
  await page.getByLabel("Search").fill("single sign-on created max.admin");
  await expect(page.getByTestId("audit-row").first()).toContainText(
    "single sign-on created max.admin@sso.example with roles admin and groups portcullis-admins",
  );
});

test("someone in no mapped group is a member: signed in, and refused the policy", async ({ page }) => {
  await signInWithSso(page, "cleo", "/policy");
  const refusal = page.getByRole("alert").filter({ hasText: "Could not load connections" });
  await expect(refusal).toBeVisible();
  await expect(refusal).toContainText("Requires one of the roles");
  await expect(page.getByRole("heading", { name: "Masking rules" })).toHaveCount(0);
});

test("cancelling at the provider comes back to the login page with a reason, and a retry works", async ({
  page,
}) => {
  const d = demo(OIDC_DEMO);
  await page.goto(`${d.dashboardUrl}/policy`);
  await ssoButton(page).click();
  await expect(page).toHaveURL(new RegExp(`^${OIDC_ISSUER}/interaction/`));
  await page.getByRole("link", { name: "[ Cancel ]" }).click();

  await expect(page).toHaveURL(/\/login\?.*error=/);
  await expect(
    page.getByRole("alert").filter({ hasText: "cancelled or refused at the identity provider" }),
  ).toBeVisible();
  // Still signed out, with the password form still there.
  await expect(page.getByLabel("Password")).toBeVisible();

  // Trying again from the same page goes through, to the page first asked for.
  await ssoButton(page).click();
  await signInAtProvider(page, "ada");
  await expect(page).toHaveURL(`${d.dashboardUrl}/policy`);
  await expect(page.getByText("ada.approver@sso.example")).toBeVisible();
});

test("a grant to the provider's group lets its member connect, until the grant is revoked", async ({
  page,
  request,
}) => {
  const d = demo(OIDC_DEMO);
  await signInWithSso(page, "gus", "/connect");
  await expect(page.getByText("No access yet")).toBeVisible();

  // An admin grants the whole on-call group, as the provider names it, for an hour.
  const auth = { Authorization: `Bearer ${d.adminToken}` };
  const connections = (await (
    await request.get(`${d.dashboardUrl}/api/v1/connections`, { headers: auth })
  ).json()) as { items: { id: string; name: string }[] };
  const granted = await request.post(`${d.dashboardUrl}/api/v1/grants`, {
    headers: auth,
    data: {
      group: "db-oncall",
      connectionId: connections.items.find((c) => c.name === "demo")!.id,
      reason: "e2e: on-call rotation",
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    },
  });
  expect(granted.status()).toBe(201);
  const { id: grantId } = (await granted.json()) as { id: string };

  await page.reload();
  const row = page.getByTestId("my-connection").filter({ hasText: "demo" });
  await row.getByRole("button", { name: "Connect" }).click();
  const command = (await row.getByTestId("psql-command").textContent()) ?? "";
  expect(command).toMatch(/^psql "postgresql:\/\/gus\.oncall%40sso\.example:pcdb_/);
  const url = /"([^"]+)"/.exec(command)![1]!;
  // The agent admits the member through the group's grant in its snapshot.
  await expect.poll(async () => (await psql(url, "select 1")).stdout, { timeout: 10_000 }).toBe("1");

  const revoked = await request.post(`${d.dashboardUrl}/api/v1/grants/${grantId}/revoke`, { headers: auth });
  expect(revoked.status()).toBe(200);
  await expect.poll(async () => (await psql(url, "select 1")).ok, { timeout: 10_000 }).toBe(false);
  await page.reload();
  await expect(page.getByText("No access yet")).toBeVisible();
});
