// SCIM provisioning end to end, as an identity provider drives it over HTTP against `npm start`'s demo: a
// person and a group are pushed, a grant to the group lets the person connect with psql through the agent,
// removing them from the group ends that session, and deactivating them ends every session and refuses new
// ones, within seconds.
import { expect, test, type APIRequestContext } from "@playwright/test";
import { demo, openPsql, psql, sessionEnd } from "../../support/demos.ts";

const SCIM_JSON = "application/scim+json";

test("a person and a group pushed over SCIM: group access, removal and deactivation reach the agent", async ({
  request,
}) => {
  const d = demo("embedded");
  const auth = { Authorization: `Bearer ${d.adminToken}` };
  const scim = (method: "GET" | "POST" | "PATCH", path: string, data?: unknown) =>
    request.fetch(`${d.dashboardUrl}/scim/v2/${path}`, {
      method,
      headers: { ...auth, "content-type": SCIM_JSON },
      ...(data === undefined ? {} : { data: JSON.stringify(data) }),
    });
  const userName = `sam.${Date.now()}@corp.example`;

  const config = await request.get(`${d.dashboardUrl}/scim/v2/ServiceProviderConfig`);
  expect(config.status()).toBe(200);
  expect(config.headers()["content-type"]).toBe(SCIM_JSON);

  const created = await scim("POST", "Users", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName,
    name: { givenName: "Sam", familyName: "Rivera" },
    emails: [{ primary: true, value: userName, type: "work" }],
    active: true,
  });
  expect(created.status()).toBe(201);
  const sam = ((await created.json()) as { id: string }).id;
  const group = await scim("POST", "Groups", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    displayName: `scim-oncall-${Date.now()}`,
    members: [{ value: sam }],
  });
  expect(group.status()).toBe(201);
  const { id: groupId, displayName } = (await group.json()) as { id: string; displayName: string };

  const granted = await request.post(`${d.dashboardUrl}/api/v1/grants`, {
    headers: auth,
    data: {
      group: displayName,
      connectionId: await demoConnectionId(request, d.dashboardUrl, auth),
      reason: "e2e",
    },
  });
  expect(granted.status()).toBe(201);
  const url = await tokenUrl(request, d, sam, userName);
  await expect.poll(async () => (await psql(url, "select 1")).stdout, { timeout: 10_000 }).toBe("1");

  // Out of the group: the session that stood on the group's grant ends.
  let session = openPsql(url);
  expect(await session.query("select 2")).toBe("2");
  const removed = await scim("PATCH", `Groups/${groupId}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "remove", path: `members[value eq "${sam}"]` }],
  });
  expect(removed.status()).toBe(200);
  expect(await sessionEnd(session, 10_000)).toMatch(/revoked or has expired/);
  session.close();

  // Back in, then deactivated: the session ends and the token is refused, by the agent and the API.
  await scim("PATCH", `Groups/${groupId}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "add", path: "members", value: [{ value: sam }] }],
  });
  await expect.poll(async () => (await psql(url, "select 1")).stdout, { timeout: 10_000 }).toBe("1");
  session = openPsql(url);
  expect(await session.query("select 3")).toBe("3");
  const deactivatedAt = Date.now();
  const deactivated = await scim("PATCH", `Users/${sam}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", value: { active: false } }],
  });
  expect(deactivated.status()).toBe(200);
  expect(((await deactivated.json()) as { active: boolean }).active).toBe(false);
  expect(await sessionEnd(session, 10_000)).toMatch(/revoked or has expired/);
  const refused = await psql(url, "select 1");
  expect(refused.ok).toBe(false);
  expect(refused.stderr).toMatch(/password authentication failed/);
  expect(Date.now() - deactivatedAt).toBeLessThan(10_000);
  session.close();
  const identities = (await (
    await request.get(`${d.dashboardUrl}/api/v1/identities`, { headers: auth })
  ).json()) as { items: { id: string; disabled: boolean; scimManaged: boolean }[] };
  expect(identities.items.find((i) => i.id === sam)).toMatchObject({ disabled: true, scimManaged: true });

  // The timeline says who did it and through what.
  const events = (await (
    await request.get(`${d.dashboardUrl}/api/v1/audit-events?text=${encodeURIComponent(userName)}&limit=10`, {
      headers: auth,
    })
  ).json()) as { items: { message: string; actorName: string; applicationName: string | null }[] };
  const scimEvents = events.items.filter((e) => e.applicationName === "scim");
  expect(scimEvents.map((e) => [e.actorName, e.message])[0]).toEqual([
    "admin@demo.local",
    `SCIM updated ${userName}: deactivated`,
  ]);
  // The refused connection after it is in the timeline too.
  expect(
    events.items.some((e) => e.message.startsWith(`password authentication failed for user "${userName}"`)),
  ).toBe(true);
});

async function demoConnectionId(
  request: APIRequestContext,
  dashboardUrl: string,
  auth: Record<string, string>,
) {
  const connections = (await (
    await request.get(`${dashboardUrl}/api/v1/connections`, { headers: auth })
  ).json()) as {
    items: { id: string; name: string }[];
  };
  return connections.items.find((c) => c.name === "demo")!.id;
}

/** A psql URL for the identity with a fresh API token, to the demo agent the developer's URL points at. */
async function tokenUrl(
  request: APIRequestContext,
  d: ReturnType<typeof demo>,
  identityId: string,
  userName: string,
): Promise<string> {
  const issued = await request.post(`${d.dashboardUrl}/api/v1/identities/${identityId}/tokens`, {
    headers: { Authorization: `Bearer ${d.adminToken}` },
    data: { name: "e2e laptop", expiresInHours: 1 },
  });
  expect(issued.status()).toBe(201);
  const { token } = (await issued.json()) as { token: string };
  return d.developerUrl.replace(
    /^postgresql:\/\/[^:]+:[^@]+@/,
    `postgresql://${encodeURIComponent(userName)}:${token}@`,
  );
}
