// Grants to a group: every member, as the identity provider says at each sign-in, may connect; leaving the
// group (or the grant's revocation) takes the access away. Through the router, the store and the snapshot
// agents enforce.
import {
  buildPolicySnapshot,
  createDb,
  deriveSecretKey,
  getPolicyRevision,
  issueDatabaseCredential,
  listGrantedConnections,
  upsertSsoIdentity,
  type TDb,
} from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCaller, refusal, seedApiTestStore, TEST_TOKENS } from "../test-support.ts";
import { identitiesRest } from "./rest.ts";

const secretKey = deriveSecretKey("group-grants-test-secret");
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let connectionId: string;
let agentId: string;

const admin = () => apiCaller(db, TEST_TOKENS.admin, secretKey);

/** A person signing in through OIDC with these groups. */
function signIn(email: string, groups: string[]) {
  return upsertSsoIdentity(db, {
    issuer: "https://idp.example",
    subject: email,
    email,
    displayName: email,
    groups,
    roles: ["member"],
  });
}

/** Who the agent admits to the demo connection: identity → [grant's end, token count, groups]. */
async function admitted() {
  const connection = (await buildPolicySnapshot(db, agentId, { secretKey })).connections.find(
    (c) => c.id === connectionId,
  )!;
  return Object.fromEntries(
    connection.grants
      .filter((g) => g.identityName.endsWith("@corp.example"))
      .map((g) => [
        g.identityName,
        {
          until: g.expiresAt,
          tokens: connection.credentials.filter((c) => c.identityId === g.identityId).length,
          groups: g.groups,
        },
      ]),
  );
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 2 });
  ({ agentId, connectionId } = await seedApiTestStore(db, { guardrails: [], maskingRules: [] }));
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("grants to a group", () => {
  it("admits every member, once, until the longest grant ends, and nobody else", async () => {
    const ana = (await signIn("ana@corp.example", ["dba"]))!;
    const bob = (await signIn("bob@corp.example", ["analysts"]))!;
    for (const who of [ana, bob])
      await admin().identities.createToken({ identityId: who.id, name: "laptop" });
    expect(await admitted()).toEqual({});

    const revision = await getPolicyRevision(db);
    const grant = await admin().identities.grant({ group: "dba", connectionId, reason: "on-call DBAs" });
    expect(await getPolicyRevision(db)).toBe(revision + 1); // agents re-pull
    expect(await admitted()).toEqual({ "ana@corp.example": { until: null, tokens: 1, groups: ["dba"] } });
    expect((await listGrantedConnections(db, ana.id)).map((c) => c.id)).toEqual([connectionId]);
    expect(await listGrantedConnections(db, bob.id)).toEqual([]);
    // A short-lived credential stands on the group's grant too.
    const credential = await issueDatabaseCredential(db, secretKey, {
      identity: ana,
      connectionId,
      ttlMs: 60_000,
    });
    expect(credential.connection.name).toBe("demo");
    await expect(
      issueDatabaseCredential(db, secretKey, { identity: bob, connectionId, ttlMs: 60_000 }),
    ).rejects.toThrow(/an active grant of bob@corp.example/);

    // Her own grant for an hour as well: still one entry, and the group's (no end) decides.
    const inAnHour = new Date(Date.now() + 3_600_000);
    await admin().identities.grant({ identityId: ana.id, connectionId, expiresAt: inAnHour.toISOString() });
    expect(await admitted()).toEqual({ "ana@corp.example": { until: null, tokens: 1, groups: ["dba"] } });

    // She leaves the group at the provider: at her next sign-in only her own hour is left.
    const before = await getPolicyRevision(db);
    await signIn("ana@corp.example", []);
    expect(await getPolicyRevision(db)).toBeGreaterThan(before);
    expect(await admitted()).toEqual({
      "ana@corp.example": { until: inAnHour.toISOString(), tokens: 1, groups: [] },
    });

    // Bob joins dba; then the group's grant is revoked and he is out again.
    await signIn("bob@corp.example", ["analysts", "dba"]);
    expect(Object.keys(await admitted()).sort()).toEqual(["ana@corp.example", "bob@corp.example"]);
    await admin().identities.revokeGrant({ grantId: grant.id });
    expect(Object.keys(await admitted())).toEqual(["ana@corp.example"]);

    const timeline = await admin().audit.list({ filter: { text: "group dba" }, limit: 10 });
    expect(timeline.items.map((e) => e.message)).toEqual([
      "revoked group dba's grant to demo",
      "granted group dba access to demo",
    ]);
  });

  it("can grant a group nobody has signed in from yet: its first member gets access at sign-in", async () => {
    await admin().identities.grant({ group: "oncall", connectionId });
    expect(await admitted()).not.toHaveProperty(["carol@corp.example"]);
    await signIn("carol@corp.example", ["oncall"]);
    expect(await admitted()).toHaveProperty(["carol@corp.example"], {
      until: null,
      tokens: 0,
      groups: ["oncall"],
    });
  });

  it("takes exactly one grantee, and lists the grants in force, over tRPC and REST", async () => {
    const identity = (await admin().identities.list()).find((i) => i.name === "carol@corp.example")!;
    expect((await refusal(admin().identities.grant({ connectionId } as never))).code).toBe("BAD_REQUEST");
    expect(
      (await refusal(admin().identities.grant({ connectionId, identityId: identity.id, group: "oncall" })))
        .message,
    ).toContain("Give either identityId or group, not both");
    expect((await refusal(admin().identities.grant({ connectionId, group: " " }))).code).toBe("BAD_REQUEST");
    const viaRest = await identitiesRest.grant(
      db,
      new Request("http://cp/api/v1/grants", {
        method: "POST",
        headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, "content-type": "application/json" },
        body: JSON.stringify({ group: "sre", connectionId, reason: "from CI" }),
      }),
    );
    expect(viaRest.id).toMatch(/^[0-9a-f-]{36}$/);

    // Who may reach what: each grant in force with its grantee, and groups with their member count now.
    const grants = await admin().identities.grants();
    expect(grants.find((g) => g.id === viaRest.id)).toMatchObject({
      grantee: { type: "group", name: "sre", members: 0 },
      connection: { id: connectionId, name: "demo" },
      reason: "from CI",
      grantedBy: "admin@demo.local",
      viaAccessRequest: false,
      expiresAt: null,
    });
    expect(grants.find((g) => g.grantee.name === "oncall")?.grantee).toMatchObject({ members: 1 });
    expect(grants.find((g) => g.grantee.name === "ana@corp.example")).toMatchObject({
      grantee: { type: "identity", kind: "human" },
    });
    expect(grants.some((g) => g.grantee.name === "dba")).toBe(false); // revoked above
    const listedOverRest = await identitiesRest.grants(
      db,
      new Request("http://cp/api/v1/grants", { headers: { authorization: `Bearer ${TEST_TOKENS.admin}` } }),
    );
    expect(listedOverRest.items).toEqual(grants);
    expect((await refusal(apiCaller(db, TEST_TOKENS.developer).identities.grants())).code).toBe("FORBIDDEN");
    expect(
      (await refusal(apiCaller(db, TEST_TOKENS.developer).identities.grant({ group: "dev", connectionId })))
        .code,
    ).toBe("FORBIDDEN");
  });

  it("keeps a scoped token from revoking grants beyond its connections or vouching for the whole chain", async () => {
    const other = await db.connection.create({
      data: {
        name: "elsewhere",
        environment: "staging",
        agentId,
        host: "127.0.0.1",
        port: 5432,
        database: "x",
        username: "x",
      },
      select: { id: true },
    });
    const adminIdentity = (await admin().identities.list()).find((i) => i.name === "admin@demo.local")!;
    const { token } = await admin().identities.createToken({
      identityId: adminIdentity.id,
      name: "demo only",
      connectionIds: [connectionId],
    });
    const scoped = apiCaller(db, token, secretKey);
    const elsewhere = await admin().identities.grant({ group: "sre", connectionId: other.id });
    expect((await refusal(scoped.identities.revokeGrant({ grantId: elsewhere.id }))).code).toBe("FORBIDDEN");
    expect((await admin().identities.grants()).some((g) => g.id === elsewhere.id)).toBe(true);
    expect((await scoped.identities.grants()).every((g) => g.connection.id === connectionId)).toBe(true);
    const own = await admin().identities.grant({ group: "sre", connectionId });
    await scoped.identities.revokeGrant({ grantId: own.id });
    expect((await refusal(scoped.audit.verifyChain())).code).toBe("FORBIDDEN");
    expect((await admin().audit.verifyChain()).ok).toBe(true);
  });
});
