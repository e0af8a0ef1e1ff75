// Just-in-time access: an identity without a grant asks for one for a few seconds with a reason; an
// approver approves over the API; the identity connects; when the grant runs out, its open session is
// closed with a clear message and new connections are refused.
import { randomBytes } from "node:crypto";
import { expect, test } from "@playwright/test";
import { demo, openPsql, psql, sessionEnd } from "../../support/demos.ts";

test("a just-in-time grant ends by itself and closes the session standing on it", async ({ request }) => {
  const d = demo("postgres");
  const admin = { Authorization: `Bearer ${d.adminToken}` };
  const name = `jit-${randomBytes(3).toString("hex")}`;
  const identity = await request.post(`${d.dashboardUrl}/api/v1/identities`, {
    headers: admin,
    data: { name, displayName: "Incident responder bot", kind: "service" },
  });
  expect(identity.status()).toBe(201);
  const { id: identityId } = (await identity.json()) as { id: string };
  const issued = await request.post(`${d.dashboardUrl}/api/v1/identities/${identityId}/tokens`, {
    headers: admin,
    data: { name: "jit" },
  });
  const { token } = (await issued.json()) as { token: string };
  const url = d.developerUrl.replace(/^postgresql:\/\/[^@]+@/, `postgresql://${name}:${token}@`);
  expect((await psql(url, "select 1")).ok).toBe(false); // no grant yet

  const connections = (await (
    await request.get(`${d.dashboardUrl}/api/v1/connections`, { headers: admin })
  ).json()) as {
    items: { id: string; name: string }[];
  };
  const asked = await request.post(`${d.dashboardUrl}/api/v1/access-requests`, {
    headers: { Authorization: `Bearer ${token}` },
    data: {
      connectionId: connections.items.find((c) => c.name === "demo")!.id,
      durationSeconds: 8,
      reason: "incident 4711: read the orders table",
    },
  });
  expect(asked.status()).toBe(201);
  const { id: requestId } = (await asked.json()) as { id: string };
  // The requester cannot approve their own request (a service token has no approver role anyway).
  expect(
    (
      await request.post(`${d.dashboardUrl}/api/v1/access-requests/${requestId}/approve`, {
        headers: { Authorization: `Bearer ${token}` },
      })
    ).status(),
  ).toBe(403);
  const approved = await request.post(`${d.dashboardUrl}/api/v1/access-requests/${requestId}/approve`, {
    headers: admin,
    data: { reason: "incident open" },
  });
  expect(approved.status()).toBe(200);
  const grant = ((await approved.json()) as { grant: { expiresAt: string } }).grant;
  expect(Date.parse(grant.expiresAt) - Date.now()).toBeLessThanOrEqual(8_000);

  await expect.poll(async () => (await psql(url, "select 1")).stdout, { timeout: 8_000 }).toBe("1");
  const session = openPsql(url);
  expect(await session.query("select count(*) > 0 from orders")).toBe("t");
  expect(await sessionEnd(session, 20_000)).toMatch(/revoked or has expired/);
  expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(grant.expiresAt));
  const refused = await psql(url, "select 1");
  expect(refused.ok).toBe(false);
  expect(refused.stderr).toMatch(/password authentication failed/);
  session.close();
});
