// API tokens end to end: issued over REST, usable with psql through the agent, and revoked: the API refuses
// the token at once and the agent ends the session that uses it, and refuses new ones, within seconds.
import { expect, test } from "@playwright/test";
import { demo, openPsql, psql, sessionEnd } from "../../support/demos.ts";

test("a revoked token is refused by the API and the agent within seconds", async ({ request }) => {
  const d = demo("postgres");
  const auth = { Authorization: `Bearer ${d.adminToken}` };
  const identities = (await (
    await request.get(`${d.dashboardUrl}/api/v1/identities`, { headers: auth })
  ).json()) as {
    items: { id: string; name: string }[];
  };
  const developer = identities.items.find((i) => i.name === "dev@demo.local")!;
  const issued = await request.post(`${d.dashboardUrl}/api/v1/identities/${developer.id}/tokens`, {
    headers: auth,
    data: { name: "e2e laptop", expiresInHours: 1 },
  });
  expect(issued.status()).toBe(201);
  const { id, token } = (await issued.json()) as { id: string; token: string };
  const url = d.developerUrl.replace(/:pcat_[^@]+@/, `:${token}@`);

  // The agent learns new tokens from its next snapshot (within a second or so).
  await expect.poll(async () => (await psql(url, "select 1")).stdout, { timeout: 10_000 }).toBe("1");
  const session = openPsql(url);
  expect(await session.query("select 2")).toBe("2");
  const meWithToken = await request.get(`${d.dashboardUrl}/api/v1/audit-events?limit=1`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(meWithToken.status()).toBe(403); // a member's token: valid, but not an auditor

  const revokedAt = Date.now();
  const revoked = await request.post(`${d.dashboardUrl}/api/v1/tokens/${id}/revoke`, { headers: auth });
  expect(revoked.status()).toBe(200);
  expect(((await revoked.json()) as { status: string }).status).toBe("revoked");

  const afterRevoke = await request.get(`${d.dashboardUrl}/api/v1/audit-events?limit=1`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(afterRevoke.status()).toBe(401);

  // The open session is ended with a clear message...
  expect(await sessionEnd(session, 10_000)).toMatch(/revoked or has expired/);
  // ...and new connections are refused.
  const refused = await psql(url, "select 1");
  expect(refused.ok).toBe(false);
  expect(refused.stderr).toMatch(/password authentication failed/);
  expect(Date.now() - revokedAt).toBeLessThan(10_000);
  session.close();
});

test("the OpenAPI document is served and describes the token routes", async ({ request }) => {
  const d = demo("embedded");
  const response = await request.get(`${d.dashboardUrl}/api/v1/openapi.json`);
  expect(response.status()).toBe(200);
  const doc = (await response.json()) as {
    openapi: string;
    servers: { url: string }[];
    paths: Record<string, unknown>;
  };
  expect(doc.openapi).toBe("3.1.0");
  expect(doc.paths).toHaveProperty(["/api/v1/identities/{id}/tokens"]);
  expect(doc.paths).toHaveProperty(["/api/v1/audit-events"]);
});
