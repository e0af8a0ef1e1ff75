// An admin's API token scoped to some connections administers those connections and nothing beyond them:
// no agent enrollment (which hands over every connection an agent serves, with its database password), no
// new connections or identities, no token revocation, no global or environment rules, no rules of other
// connections, and no reading other connections' rules or who reaches them. Over tRPC and REST alike.
import { createApiToken, createDb, deriveSecretKey, type TDb } from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identitiesRest } from "./identities/rest.ts";
import { handleRest } from "./rest.ts";
import { apiCaller, refusal, seedApiTestStore, TEST_TOKENS } from "./test-support.ts";

const secretKey = deriveSecretKey("scoped-tokens-secret");
const NOT_SCOPED = /needs a token not scoped to connections/;

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let agentId: string;
/** "demo", production: outside the scoped token. */
let prodId: string;
/** "sandbox": the only connection the scoped token covers. */
let sandboxId: string;
let scopedToken: string;
let scopedIdentityId: string;

const scoped = () => apiCaller(db, scopedToken, secretKey);
const admin = () => apiCaller(db, TEST_TOKENS.admin, secretKey);
const forbidden = async (call: Promise<unknown>) => {
  const refused = await refusal(call);
  expect(refused.code).toBe("FORBIDDEN");
  return refused.message;
};
const masking = (scope: { connectionId: string } | { environment: string | null }, id?: string) => ({
  id,
  scope,
  fields: {
    name: `probe-${Math.random()}`,
    columnPattern: "x.y",
    detector: null,
    strategy: "redact" as const,
  },
});

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 4 });
  ({ agentId, connectionId: prodId } = await seedApiTestStore(db, { guardrails: [], maskingRules: [] }));
  sandboxId = (
    await db.connection.create({
      data: {
        name: "sandbox",
        environment: "development",
        agentId,
        host: "127.0.0.1",
        port: 5432,
        database: "x",
        username: "postgres",
      },
      select: { id: true },
    })
  ).id;
  const identity = await db.identity.create({
    data: { name: "scoped-admin@example.com", displayName: "Scoped", kind: "human", roles: ["admin"] },
    select: { id: true, name: true },
  });
  scopedIdentityId = identity.id;
  scopedToken = (
    await createApiToken(
      db,
      { ...identity, kind: "human" },
      { identityId: identity.id, name: "scoped", connectionIds: [sandboxId], expiresAt: null },
    )
  ).token;
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("an admin token scoped to connections", () => {
  it("cannot enroll an agent", async () => {
    expect(await forbidden(scoped().agents.issueEnrollment({ name: "agent" }))).toMatch(NOT_SCOPED);
    expect(await db.agentEnrollmentToken.count()).toBe(0);
    // An unscoped admin can.
    expect((await admin().agents.issueEnrollment({ name: "agent" })).agentId).toBe(agentId);
  });

  it("cannot create connections or identities, nor probe databases through agents", async () => {
    const target = {
      agentId,
      host: "db.internal.example",
      port: 5432,
      database: "app",
      username: "app",
      password: "s3cret",
      tlsMode: "disable" as const,
    };
    expect(
      await forbidden(
        scoped().connections.create({
          ...target,
          name: "sneaky",
          environment: "staging",
          applyBaseline: false,
        }),
      ),
    ).toMatch(NOT_SCOPED);
    expect(await db.connection.count({ where: { name: "sneaky" } })).toBe(0);
    expect(await forbidden(scoped().connections.probe(target))).toMatch(NOT_SCOPED);
    expect(
      await forbidden(
        scoped().identities.create({ name: "bot", displayName: "Bot", kind: "service", roles: ["admin"] }),
      ),
    ).toMatch(NOT_SCOPED);
    const rest = await handleRest(() =>
      identitiesRest.create(
        db,
        new Request("http://x/api/v1/identities", {
          method: "POST",
          headers: { authorization: `Bearer ${scopedToken}`, "content-type": "application/json" },
          body: JSON.stringify({ name: "bot", displayName: "Bot", kind: "service" }),
        }),
      ),
    );
    expect(rest.status).toBe(403);
    expect(await db.identity.count({ where: { name: "bot" } })).toBe(0);
  });

  it("cannot revoke API tokens", async () => {
    const developer = await db.identity.findUniqueOrThrow({ where: { name: "dev@demo.local" } });
    const token = await db.apiToken.findFirstOrThrow({ where: { identityId: developer.id } });
    expect(await forbidden(scoped().identities.revokeToken({ tokenId: token.id }))).toMatch(NOT_SCOPED);
    const rest = await handleRest(() =>
      identitiesRest.revokeToken(
        db,
        new Request("http://x", { method: "POST", headers: { authorization: `Bearer ${scopedToken}` } }),
        token.id,
      ),
    );
    expect(rest.status).toBe(403);
    expect((await db.apiToken.findUniqueOrThrow({ where: { id: token.id } })).revokedAt).toBeNull();
  });

  it("issues tokens only to its own identity, within its scope", async () => {
    // Another identity's token would act under that name inside the scope: as an unscoped admin and
    // approver, or as a member of the group a guardrail wants approvals from.
    const adminIdentity = await db.identity.findUniqueOrThrow({ where: { name: "admin@demo.local" } });
    const approver = await db.identity.create({
      data: { name: "dba@example.com", displayName: "DBA", kind: "human", roles: ["approver"] },
      select: { id: true },
    });
    const tokensBefore = await db.apiToken.count();
    for (const identityId of [adminIdentity.id, approver.id])
      expect(
        await forbidden(
          scoped().identities.createToken({ identityId, name: "borrowed", connectionIds: [sandboxId] }),
        ),
      ).toMatch(/only to its own identity/);
    const rest = await handleRest(() =>
      identitiesRest.createToken(
        db,
        new Request("http://x", {
          method: "POST",
          headers: { authorization: `Bearer ${scopedToken}`, "content-type": "application/json" },
          body: JSON.stringify({ name: "borrowed", connectionIds: [sandboxId] }),
        }),
        adminIdentity.id,
      ),
    );
    expect(rest.status).toBe(403);
    expect(await db.apiToken.count()).toBe(tokensBefore);

    // Its own identity it may: within its scope, however the id is spelled, and never beyond it.
    const own = await scoped().identities.createToken({
      identityId: scopedIdentityId.toUpperCase(),
      name: "own",
      connectionIds: [sandboxId],
    });
    expect(own).toMatchObject({ identityId: scopedIdentityId, connectionIds: [sandboxId] });
    await forbidden(scoped().identities.createToken({ identityId: scopedIdentityId, name: "wider" }));
    await forbidden(
      scoped().identities.createToken({
        identityId: scopedIdentityId,
        name: "other",
        connectionIds: [prodId],
      }),
    );
    // Nor one that outlives the token issuing it.
    const { token: shortLived } = await createApiToken(
      db,
      { id: scopedIdentityId, name: "scoped-admin@example.com", kind: "human" },
      {
        identityId: scopedIdentityId,
        name: "short-lived",
        connectionIds: [sandboxId],
        expiresAt: new Date(Date.now() + 3600_000),
      },
    );
    const short = apiCaller(db, shortLived, secretKey);
    expect(
      await forbidden(
        short.identities.createToken({
          identityId: scopedIdentityId,
          name: "successor",
          connectionIds: [sandboxId],
        }),
      ),
    ).toMatch(/expire no later than itself/);
    await short.identities.createToken({
      identityId: scopedIdentityId,
      name: "shorter",
      connectionIds: [sandboxId],
      expiresInHours: 0.5,
    });
    // An unscoped admin issues tokens to anyone.
    expect((await admin().identities.createToken({ identityId: approver.id, name: "dba" })).identityId).toBe(
      approver.id,
    );
  });

  it("reads only its own identity and tokens, the agents of its connections and its own connections", async () => {
    const adminIdentity = await db.identity.findUniqueOrThrow({ where: { name: "admin@demo.local" } });
    const otherAgent = await db.agent.create({ data: { name: "other-agent" }, select: { id: true } });
    await db.connection.create({
      data: {
        name: "elsewhere",
        environment: "production",
        agentId: otherAgent.id,
        host: "127.0.0.1",
        port: 5432,
        database: "x",
        username: "postgres",
      },
    });
    // A sibling token of its own identity that reaches beyond the scope (and names prod).
    const wide = await admin().identities.createToken({ identityId: scopedIdentityId, name: "wide" });
    const narrow = await admin().identities.createToken({
      identityId: scopedIdentityId,
      name: "narrow",
      connectionIds: [sandboxId],
    });
    await admin().identities.createToken({
      identityId: scopedIdentityId,
      name: "prod",
      connectionIds: [prodId],
    });
    for (const connectionId of [prodId, sandboxId])
      await admin().identities.grant({ identityId: scopedIdentityId, connectionId });

    // Identities: only its own, over tRPC and REST.
    expect((await scoped().identities.list()).map((i) => i.id)).toEqual([scopedIdentityId]);
    const rest = await handleRest(() =>
      identitiesRest.list(
        db,
        new Request("http://x/api/v1/identities", { headers: { authorization: `Bearer ${scopedToken}` } }),
      ),
    );
    expect(((await rest.json()) as { items: { id: string }[] }).items.map((i) => i.id)).toEqual([
      scopedIdentityId,
    ]);
    expect((await admin().identities.list()).length).toBeGreaterThan(2);

    // Tokens: not another identity's; of its own, those confined to its scope.
    await forbidden(scoped().identities.tokens({ identityId: adminIdentity.id }));
    const own = await scoped().identities.tokens({ identityId: scopedIdentityId });
    expect(own.map((t) => t.id)).toContain(narrow.id);
    expect(
      own.every((t) => t.connectionIds.length > 0 && t.connectionIds.every((c) => c === sandboxId)),
    ).toBe(true);
    expect((await admin().identities.tokens({ identityId: scopedIdentityId })).map((t) => t.id)).toContain(
      wide.id,
    );

    // Agents: those serving its connections, with only those connections.
    expect(
      (await scoped().agents.list()).map((a) => ({ id: a.id, connections: a.connections.map((c) => c.id) })),
    ).toEqual([{ id: agentId, connections: [sandboxId] }]);
    const all = await admin().agents.list();
    expect(all.map((a) => a.id).sort()).toEqual([agentId, otherAgent.id].sort());
    expect(
      all
        .find((a) => a.id === agentId)!
        .connections.map((c) => c.id)
        .sort(),
    ).toEqual([prodId, sandboxId].sort());

    // Its own connections: those it reaches through this token.
    expect((await scoped().connections.mine()).map((c) => c.id)).toEqual([sandboxId]);
  });

  it("edits rules of its connections only", async () => {
    const prodRule = await admin().policy.saveMaskingRule(masking({ connectionId: prodId }));
    const globalRule = await admin().policy.saveGuardrail({
      scope: { environment: null },
      fields: {
        name: "global",
        priority: 1,
        action: "block",
        message: "no",
        match: { commands: ["DropStmt"] },
      },
    });
    const rulesBefore = (await db.maskingRule.count()) + (await db.guardrail.count());

    expect(await forbidden(scoped().policy.saveMaskingRule(masking({ connectionId: prodId })))).toMatch(
      /scoped to other connections/,
    );
    expect(await forbidden(scoped().policy.saveMaskingRule(masking({ environment: null })))).toMatch(
      NOT_SCOPED,
    );
    expect(await forbidden(scoped().policy.saveMaskingRule(masking({ environment: "development" })))).toMatch(
      NOT_SCOPED,
    );
    // Neither changing another connection's rule nor moving it into the token's connection.
    expect(
      await forbidden(scoped().policy.saveMaskingRule(masking({ connectionId: sandboxId }, prodRule.id))),
    ).toMatch(/scoped to other connections/);
    await forbidden(scoped().policy.deleteMaskingRule({ id: prodRule.id }));
    await forbidden(scoped().policy.deleteGuardrail({ id: globalRule.id }));
    expect((await db.maskingRule.count()) + (await db.guardrail.count())).toBe(rulesBefore);
    expect((await db.maskingRule.findUniqueOrThrow({ where: { id: prodRule.id } })).connectionId).toBe(
      prodId,
    );

    // Its own connection's rules it creates, edits and deletes; it cannot move one out of its scope.
    const own = await scoped().policy.saveMaskingRule(masking({ connectionId: sandboxId }));
    await forbidden(scoped().policy.saveMaskingRule(masking({ connectionId: prodId }, own.id)));
    await scoped().policy.saveMaskingRule(masking({ connectionId: sandboxId }, own.id));
    await scoped().policy.deleteMaskingRule({ id: own.id });
  });

  it("reads the rules of its connections only, and who reaches them", async () => {
    expect((await scoped().policy.connections()).map((c) => c.id)).toEqual([sandboxId]);
    expect((await refusal(scoped().policy.rules({ connectionId: prodId }))).code).toBe("NOT_FOUND");
    expect((await refusal(scoped().policy.preview({ connection: "demo", sql: "select 1" }))).code).toBe(
      "NOT_FOUND",
    );
    expect((await refusal(scoped().policy.simulate({ connectionId: prodId }))).code).toBe("NOT_FOUND");
    expect((await scoped().policy.rules({ connectionId: sandboxId })).connection.id).toBe(sandboxId);
    const rest = await handleRest(() =>
      identitiesRest.connections(
        db,
        new Request("http://x/api/v1/connections", { headers: { authorization: `Bearer ${scopedToken}` } }),
      ),
    );
    expect(((await rest.json()) as { items: { id: string }[] }).items.map((c) => c.id)).toEqual([sandboxId]);
  });
});
