// Short-lived database credentials: an admin granted access gets a signed, expiring credential from the
// Connect page (or over REST); psql with it works through the agent (verified offline there); revoking the
// grant over the API ends that session and refuses the credential within seconds.
import { expect, test } from "@playwright/test";
import { demo, openPsql, psql, sessionEnd } from "../../support/demos.ts";
import { signInAsAdmin } from "../../support/sign-in.ts";

test("a signed credential from the Connect page works until its grant is revoked", async ({
  page,
  request,
}) => {
  // The postgres-store demo: approvals.spec.ts grants the admin on the embedded one, and a second grant
  // would (rightly) keep the session alive after this one is revoked.
  const d = demo("postgres");
  const auth = { Authorization: `Bearer ${d.adminToken}` };
  const connections = (await (
    await request.get(`${d.dashboardUrl}/api/v1/connections`, { headers: auth })
  ).json()) as {
    items: { id: string; name: string }[];
  };
  const demoConnection = connections.items.find((c) => c.name === "demo")!;
  const identities = (await (
    await request.get(`${d.dashboardUrl}/api/v1/identities`, { headers: auth })
  ).json()) as {
    items: { id: string; name: string }[];
  };
  const adminIdentity = identities.items.find((i) => i.name === d.adminEmail)!;
  const granted = await request.post(`${d.dashboardUrl}/api/v1/grants`, {
    headers: auth,
    data: {
      identityId: adminIdentity.id,
      connectionId: demoConnection.id,
      reason: "e2e: short-lived credentials",
    },
  });
  expect(granted.status()).toBe(201);
  const { id: grantId } = (await granted.json()) as { id: string };

  await signInAsAdmin(page, d, "/connect");
  const row = page.getByTestId("my-connection").filter({ hasText: "demo" });
  await row.getByRole("button", { name: "Connect" }).click();
  const command = (await row.getByTestId("psql-command").textContent()) ?? "";
  expect(command).toMatch(
    /^psql "postgresql:\/\/admin%40demo\.local:pcdb_[\w-]+\.[\w-]+@127\.0\.0\.1:\d+\/demo"$/,
  );
  const url = /"([^"]+)"/.exec(command)![1]!;

  // The agent gets the signing key with its snapshot: allow it a moment after the first key is created.
  await expect.poll(async () => (await psql(url, "select 1")).stdout, { timeout: 10_000 }).toBe("1");
  const session = openPsql(url);
  expect(await session.query("select 2")).toBe("2");
  // The same over REST: a credential for a chosen lifetime; a body that is not JSON is a 400, not a
  // credential with default values.
  const credentialsUrl = `${d.dashboardUrl}/api/v1/connections/${demoConnection.id}/credentials`;
  const issued = await request.post(credentialsUrl, { headers: auth, data: { ttlMinutes: 15 } });
  expect(issued.status()).toBe(201);
  const credential = (await issued.json()) as { url: string; expiresAt: string };
  expect(credential.url).toMatch(/^postgresql:\/\/admin%40demo\.local:pcdb_[\w-]+\.[\w-]+@/);
  expect(Date.parse(credential.expiresAt) - Date.now()).toBeLessThanOrEqual(15 * 60_000);
  expect((await psql(credential.url, "select 3")).stdout).toBe("3");
  const malformed = await request.post(credentialsUrl, {
    headers: { ...auth, "content-type": "application/json" },
    data: Buffer.from("{ttlMinutes: 15"),
  });
  expect(malformed.status()).toBe(400);
  expect(await malformed.text()).toMatch(/must be JSON/);

  // A tampered credential is refused.
  const forged = url.replace(/pcdb_([\w-]+)\./, (_m, payload: string) => `pcdb_${payload.slice(0, -2)}AA.`);
  expect((await psql(forged, "select 1")).ok).toBe(false);

  const revoked = await request.post(`${d.dashboardUrl}/api/v1/grants/${grantId}/revoke`, { headers: auth });
  expect(revoked.status()).toBe(200);
  expect(await sessionEnd(session, 10_000)).toMatch(/revoked or has expired/);
  expect((await psql(url, "select 1")).stderr).toMatch(/password authentication failed/);
  session.close();
});
