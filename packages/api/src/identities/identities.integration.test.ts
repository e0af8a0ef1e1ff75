// Identities, tokens and grants through the tRPC router and the REST edge, against a real store.
import {
  appendAuditEvents,
  buildPolicySnapshot,
  createDb,
  deriveSecretKey,
  getPolicyRevision,
  listAuditEvents,
  type TDb,
} from "@portcullis/db";
import { createTestDatabase, newAuditEvent } from "@portcullis/db/test-support";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { apiCaller, seedApiTestStore } from "../test-support.ts";
import { identitiesRest } from "./rest.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let demoConnectionId: string;
let agentId: string;

const callerWith = (token: string) => apiCaller(db, token);
const admin = () => callerWith("pcat_admin");

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return "OK";
  } catch (error) {
    if (error instanceof TRPCError || error instanceof AppError) return error.code;
    return String(error);
  }
};

const authenticates = async (token: string) =>
  (await codeOf(
    resolveCaller(db, { headers: new Headers({ authorization: `Bearer ${token}` }), session: null }),
  )) === "OK";

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 2 });
  const seeded = await seedApiTestStore(db, {
    guardrails: [],
    maskingRules: [],
  });
  agentId = seeded.agentId;
  demoConnectionId = seeded.connectionId;
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("identities and API tokens", () => {
  it("issues a token shown once, which works until it is revoked, and reaches agents in the snapshot", async () => {
    const service = await admin().identities.create({
      name: "etl-job",
      displayName: "Nightly ETL",
      kind: "service",
      roles: ["member"],
    });
    await admin().identities.grant({ identityId: service.id, connectionId: demoConnectionId, reason: "ETL" });
    const revision = await getPolicyRevision(db);
    const created = await admin().identities.createToken({
      identityId: service.id,
      name: "etl",
      connectionIds: [demoConnectionId],
    });
    expect(created.token).toMatch(/^pcat_/);
    expect(created.status).toBe("active");
    expect(await getPolicyRevision(db)).toBe(revision + 1);
    const listed = await admin().identities.tokens({ identityId: service.id });
    expect(JSON.stringify(listed)).not.toContain(created.token);
    expect(await authenticates(created.token)).toBe(true);

    const key = deriveSecretKey("test-secret-key-123");
    const credentialsOf = async () =>
      (await buildPolicySnapshot(db, agentId, { secretKey: key })).connections[0]!.credentials.filter(
        (c) => c.identityName === "etl-job",
      );
    expect(await credentialsOf()).toHaveLength(1);

    const revoked = await admin().identities.revokeToken({ tokenId: created.id });
    expect(revoked.status).toBe("revoked");
    expect(await authenticates(created.token)).toBe(false);
    expect(await credentialsOf()).toHaveLength(0);
  });

  it("revokes, with a token, every token issued with it, down the line", async () => {
    // A leaked admin token's holder mints a successor for the admin and one for a service, and the
    // successor mints another: revoking the leaked token must leave none of them working.
    const adminIdentity = (await admin().identities.list()).find((i) => i.name === "admin@demo.local")!;
    const bot = await admin().identities.create({
      name: "minted-bot",
      displayName: "Minted",
      kind: "service",
      roles: ["member"],
    });
    const leaked = await admin().identities.createToken({ identityId: adminIdentity.id, name: "leaked" });
    const successor = await callerWith(leaked.token).identities.createToken({
      identityId: adminIdentity.id,
      name: "successor",
    });
    const forBot = await callerWith(leaked.token).identities.createToken({ identityId: bot.id, name: "bot" });
    const grandchild = await callerWith(successor.token).identities.createToken({
      identityId: bot.id,
      name: "grandchild",
    });
    const bystander = await admin().identities.createToken({ identityId: bot.id, name: "bystander" });
    expect(successor.issuedByTokenId).toBe(leaked.id);
    expect(grandchild.issuedByTokenId).toBe(successor.id);
    expect(bystander.issuedByTokenId).not.toBe(leaked.id);

    await admin().identities.revokeToken({ tokenId: leaked.id });
    for (const token of [leaked, successor, forBot, grandchild])
      expect({ name: token.name, works: await authenticates(token.token) }).toEqual({
        name: token.name,
        works: false,
      });
    expect(await authenticates(bystander.token)).toBe(true);
    const botTokens = await admin().identities.tokens({ identityId: bot.id });
    expect(botTokens.find((t) => t.id === grandchild.id)?.status).toBe("revoked");
    const [event] = (await listAuditEvents(db, { text: '"leaked"' }, { limit: 1 })).items;
    expect(event?.message).toMatch(/revoked API token "leaked" .* and 3 API tokens issued with it$/);
  });

  it("keeps, when an identity is deactivated, the tokens its tokens issued to services; revoking its token again revokes them", async () => {
    // Offboarding a person must not stop the services they set up; an incident revokes the token itself.
    const ops = await admin().identities.create({
      name: "ops-minter",
      displayName: "Ops",
      kind: "service",
      roles: ["admin"],
    });
    const bot = await admin().identities.create({
      name: "minted-bot-2",
      displayName: "Minted",
      kind: "service",
      roles: ["member"],
    });
    const opsToken = await admin().identities.createToken({ identityId: ops.id, name: "ops" });
    const forBot = await callerWith(opsToken.token).identities.createToken({
      identityId: bot.id,
      name: "bot",
    });
    await admin().identities.setActive({ identityId: ops.id, active: false });
    expect(await authenticates(opsToken.token)).toBe(false);
    expect(await authenticates(forBot.token)).toBe(true);
    await admin().identities.revokeToken({ tokenId: opsToken.id });
    expect(await authenticates(forBot.token)).toBe(false);
    const [event] = (await listAuditEvents(db, { text: '"ops"' }, { limit: 1 })).items;
    expect(event?.message).toMatch(/^revoked 1 API token issued with the revoked API token "ops"/);
  });

  it("refuses an expired token", async () => {
    const dev = (await admin().identities.list()).find((i) => i.name === "dev@demo.local")!;
    const created = await admin().identities.createToken({
      identityId: dev.id,
      name: "short",
      expiresInHours: 0.0002,
    });
    expect(await authenticates(created.token)).toBe(true);
    await new Promise((r) => setTimeout(r, 900));
    expect(await authenticates(created.token)).toBe(false);
    expect(
      (await admin().identities.tokens({ identityId: dev.id })).find((t) => t.id === created.id)?.status,
    ).toBe("expired");
  });

  it("keeps a scoped token within its connections", async () => {
    const adminIdentity = (await admin().identities.list()).find((i) => i.name === "admin@demo.local")!;
    const { token } = await admin().identities.createToken({
      identityId: adminIdentity.id,
      name: "scoped automation",
      connectionIds: [demoConnectionId],
    });
    await appendAuditEvents(db, [
      newAuditEvent({
        connectionId: demoConnectionId,
        connectionName: "demo",
        statement: "select 'zq-in'",
      }),
      newAuditEvent({
        connectionId: "00000000-0000-4000-8000-00000000dead",
        connectionName: "elsewhere",
        statement: "select 'zq-out'",
      }),
    ]);
    const scoped = await callerWith(token).audit.list({ filter: { text: "zq-" }, limit: 50 });
    expect(scoped.items.map((e) => e.statement)).toEqual(["select 'zq-in'"]);
    const unscoped = await admin().audit.list({ filter: { text: "zq-" }, limit: 50 });
    expect(unscoped.items).toHaveLength(2);
    // It cannot mint a token (or a grant) reaching beyond its own scope.
    expect(
      await codeOf(callerWith(token).identities.createToken({ identityId: adminIdentity.id, name: "wider" })),
    ).toBe("FORBIDDEN");
  });

  it("lets a member neither list identities nor mint tokens", async () => {
    const dev = (await admin().identities.list()).find((i) => i.name === "dev@demo.local")!;
    expect(await codeOf(callerWith("pcat_dev").identities.list())).toBe("FORBIDDEN");
    expect(
      await codeOf(callerWith("pcat_dev").identities.createToken({ identityId: dev.id, name: "x" })),
    ).toBe("FORBIDDEN");
    // Their own tokens they may see.
    expect(await codeOf(callerWith("pcat_dev").identities.tokens({ identityId: dev.id }))).toBe("OK");
  });

  it("serves the same over REST, with clear errors for bad input", async () => {
    const post = (url: string, body: string, token = "pcat_admin") =>
      new Request(url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body,
      });
    const identity = await identitiesRest.create(
      db,
      post(
        "http://x/api/v1/identities",
        JSON.stringify({ name: "copilot-2", displayName: "Bot", kind: "ai_agent" }),
      ),
    );
    expect(identity).toMatchObject({ kind: "ai_agent", roles: ["member"] });
    expect(await codeOf(identitiesRest.create(db, post("http://x/api/v1/identities", "{not json")))).toBe(
      "BAD_REQUEST",
    );
    expect(
      await codeOf(
        identitiesRest.create(
          db,
          post(
            "http://x/api/v1/identities",
            JSON.stringify({ name: "copilot-2", displayName: "Bot", kind: "ai_agent" }),
          ),
        ),
      ),
    ).toBe("CONFLICT");
    const token = await identitiesRest.createToken(
      db,
      post("http://x", JSON.stringify({ name: "ci" })),
      identity.id,
    );
    expect(token.token).toMatch(/^pcat_/);
    await identitiesRest.revokeToken(db, post("http://x", ""), token.id);
    expect(await authenticates(token.token)).toBe(false);
  });

  it("takes a grant's end only within sane bounds, so the grant list always reads back", async () => {
    const bot = await admin().identities.create({ name: "dated-bot", displayName: "Dated", kind: "service" });
    const grantOver = (expiresAt: unknown) =>
      identitiesRest.grant(
        db,
        new Request("http://x/api/v1/grants", {
          method: "POST",
          headers: { authorization: "Bearer pcat_admin", "content-type": "application/json" },
          body: JSON.stringify({ identityId: bot.id, connectionId: demoConnectionId, expiresAt }),
        }),
      );
    const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
    // Year 10000 in UTC: Postgres stored it, and it read back as an Invalid Date that broke every grant list.
    for (const expiresAt of [
      "9999-12-31T23:59:59-14:00",
      "9998-06-01T00:00:00Z",
      inDays(366 * 11),
      "0000-01-01T00:00:00+14:00",
      inDays(-1),
    ])
      expect(await codeOf(grantOver(expiresAt)), expiresAt).toBe("BAD_REQUEST");
    await expect(grantOver("9999-12-31T23:59:59-14:00")).rejects.toThrow(/within 10 years/);
    await expect(grantOver(inDays(-1))).rejects.toThrow(/in the future/);
    // Within bounds (and with an offset), or without an end, it is taken.
    const later = new Date(Date.now() + 9 * 366 * 86_400_000);
    const offset = `${later.toISOString().slice(0, 19)}+02:00`;
    await grantOver(offset);
    await grantOver(null);
    const mine = (await admin().identities.grants()).filter(
      (g) => g.grantee.type === "identity" && g.grantee.id === bot.id,
    );
    expect(mine.map((g) => g.expiresAt).sort()).toEqual(
      [new Date(Date.parse(offset)).toISOString(), null].sort(),
    );
    for (const g of mine) await admin().identities.revokeGrant({ grantId: g.id });
  });

  it("deactivates an identity at once, for the API and the agents, and reactivates it without its old tokens", async () => {
    const bot = await admin().identities.create({
      name: "rogue-bot",
      displayName: "Rogue bot",
      kind: "ai_agent",
      roles: ["member"],
    });
    await admin().identities.grant({
      identityId: bot.id,
      connectionId: demoConnectionId,
      reason: "assistant",
    });
    const first = await admin().identities.createToken({ identityId: bot.id, name: "one" });
    await admin().identities.createToken({ identityId: bot.id, name: "two" });
    const key = deriveSecretKey("test-secret-key-123");
    const admitted = async () =>
      (await buildPolicySnapshot(db, agentId, { secretKey: key })).connections[0]!.credentials.filter(
        (c) => c.identityName === "rogue-bot",
      ).length;
    expect(await admitted()).toBe(2);

    const post = (token: string) =>
      new Request("http://x", { method: "POST", headers: { authorization: `Bearer ${token}` } });
    const revision = await getPolicyRevision(db);
    const deactivated = await identitiesRest.setActive(db, post("pcat_admin"), bot.id, false);
    expect(deactivated).toMatchObject({ disabled: true, activeTokens: 0 });
    expect(await getPolicyRevision(db)).toBe(revision + 1); // agents re-pull and end its sessions
    expect(await admitted()).toBe(0);
    expect(await authenticates(first.token)).toBe(false);
    const events = await listAuditEvents(db, { text: "rogue-bot" }, { limit: 1 });
    expect(events.items[0]).toMatchObject({
      type: "admin_change",
      actorName: "admin@demo.local",
      message: 'deactivated AI agent identity "rogue-bot" (2 API tokens revoked)',
    });

    const reactivated = await admin().identities.setActive({ identityId: bot.id, active: true });
    expect(reactivated.disabled).toBe(false);
    expect(await authenticates(first.token)).toBe(false);
    expect(await admitted()).toBe(0);
    await admin().identities.createToken({ identityId: bot.id, name: "three" });
    expect(await admitted()).toBe(1);

    // Refusals: yourself, a member, a token scoped to a connection, an unknown identity.
    const me = (await admin().identities.list()).find((i) => i.name === "admin@demo.local")!;
    expect(await codeOf(admin().identities.setActive({ identityId: me.id, active: false }))).toBe("CONFLICT");
    expect(
      await codeOf(callerWith("pcat_dev").identities.setActive({ identityId: bot.id, active: false })),
    ).toBe("FORBIDDEN");
    const scoped = await admin().identities.createToken({
      identityId: me.id,
      name: "scoped",
      connectionIds: [demoConnectionId],
    });
    expect(await codeOf(identitiesRest.setActive(db, post(scoped.token), bot.id, false))).toBe("FORBIDDEN");
    expect(
      await codeOf(
        identitiesRest.setActive(db, post("pcat_admin"), "6f1c0a4e-9d1b-4c2e-8f3a-000000000000", false),
      ),
    ).toBe("NOT_FOUND");
    expect(await codeOf(identitiesRest.setActive(db, post("pcat_admin"), "nope", false))).toBe("BAD_REQUEST");
    expect(await admitted()).toBe(1);
  });

  it("never leaves no active admin, whatever the case of the id or the timing", async () => {
    const me = (await admin().identities.list()).find((i) => i.name === "admin@demo.local")!;
    expect(
      await codeOf(admin().identities.setActive({ identityId: me.id.toUpperCase(), active: false })),
    ).toBe("CONFLICT");
    const ops = await admin().identities.create({
      name: "ops-admin-bot",
      displayName: "Ops",
      kind: "service",
      roles: ["admin"],
    });
    const opsToken = (await admin().identities.createToken({ identityId: ops.id, name: "ops" })).token;
    // Two admins deactivate each other at the same moment: one of them stays.
    const [mine, theirs] = await Promise.all([
      codeOf(admin().identities.setActive({ identityId: ops.id, active: false })),
      codeOf(callerWith(opsToken).identities.setActive({ identityId: me.id, active: false })),
    ]);
    expect([mine, theirs]).toContain("OK");
    if (mine === "OK" && theirs === "OK") throw new Error("both admins were deactivated");
    const admins = (
      await admin()
        .identities.list()
        .catch(() => callerWith(opsToken).identities.list())
    ).filter((i) => i.roles.includes("admin") && !i.disabled);
    expect(admins.length).toBeGreaterThanOrEqual(1);
    // Whoever is left reactivates the other; a deactivated identity gets no new token meanwhile.
    const survivor = mine === "OK" ? admin() : callerWith(opsToken);
    const other = mine === "OK" ? ops.id : me.id;
    expect(await codeOf(survivor.identities.createToken({ identityId: other, name: "x" }))).toBe("CONFLICT");
    await survivor.identities.setActive({ identityId: other, active: true });
  });
});
