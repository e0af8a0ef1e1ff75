// A token scoped to some connections approves only there: held statements and access requests of other
// connections are neither listed, nor read, nor decided, and their ids answer like ids that do not exist.
import { randomUUID } from "node:crypto";
import { createApiToken, createApproval, createDb, type TDb } from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleRest } from "../rest.ts";
import { apiCaller, refusal, seedApiTestStore, TEST_TOKENS } from "../test-support.ts";
import { approvalsRest } from "./rest.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
/** "demo", production: outside the scoped token. */
let prodId: string;
/** "sandbox": the only connection the scoped token covers. */
let sandboxId: string;
let developerId: string;
const tokens = { scopedApprover: "", requester: "" };

async function identityWithToken(name: string, roles: ("approver" | "member")[], scope: string[]) {
  const identity = await db.identity.create({
    data: { name, displayName: name, kind: "human", roles },
    select: { id: true },
  });
  const actor = { id: identity.id, name, kind: "human" as const };
  return (
    await createApiToken(db, actor, { identityId: identity.id, name, connectionIds: scope, expiresAt: null })
  ).token;
}

function holdStatement(connectionId: string) {
  return createApproval(db, {
    id: randomUUID(),
    requesterId: developerId,
    connectionId,
    sessionId: randomUUID(),
    statement: "DELETE FROM orders",
    analysis: { statementClass: "write", tables: ["orders"], ruleName: "r", message: "needs approval" },
    risk: "medium",
    ruleId: null,
    expiresAt: new Date(Date.now() + 600_000),
  });
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 4 });
  ({ connectionId: prodId } = await seedApiTestStore(db, { guardrails: [], maskingRules: [] }));
  developerId = (await db.identity.findUniqueOrThrow({ where: { name: "dev@demo.local" } })).id;
  const edge = await db.agent.create({ data: { name: "edge" }, select: { id: true } });
  sandboxId = (
    await db.connection.create({
      data: {
        name: "sandbox",
        environment: "development",
        agentId: edge.id,
        host: "127.0.0.1",
        port: 5432,
        database: "x",
        username: "postgres",
      },
      select: { id: true },
    })
  ).id;
  tokens.scopedApprover = await identityWithToken("scoped-approver@example.com", ["approver"], [sandboxId]);
  tokens.requester = await identityWithToken("requester@example.com", ["member"], []);
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("a token scoped to connections, on approvals", () => {
  it("lists, reads and decides access requests of its connections only", async () => {
    const requester = apiCaller(db, tokens.requester);
    const ask = (connectionId: string) =>
      requester.approvals.requestAccess({ connectionId, durationSeconds: 3600, reason: "need it" });
    const onProd = await ask(prodId);
    const onSandbox = await ask(sandboxId);
    const scoped = apiCaller(db, tokens.scopedApprover);

    const listed = await scoped.approvals.accessRequests({ status: "pending" });
    expect(listed.items.map((i) => i.id)).toEqual([onSandbox.id]);
    // An unscoped admin still sees both.
    const all = await apiCaller(db, TEST_TOKENS.admin).approvals.accessRequests({ status: "pending" });
    expect(all.items.map((i) => i.id).sort()).toEqual([onProd.id, onSandbox.id].sort());

    // Out of scope is answered like an id that does not exist: no existence oracle.
    const outOfScope = await refusal(scoped.approvals.approveAccess({ id: onProd.id, reason: "ok" }));
    const unknown = await refusal(scoped.approvals.approveAccess({ id: randomUUID(), reason: "ok" }));
    expect(outOfScope.code).toBe("NOT_FOUND");
    expect(unknown.code).toBe("NOT_FOUND");
    expect(outOfScope.message.replace(onProd.id, "ID")).toBe(unknown.message.replace(/[0-9a-f-]{36}/, "ID"));
    expect((await refusal(scoped.approvals.denyAccess({ id: onProd.id, reason: "no" }))).code).toBe(
      "NOT_FOUND",
    );
    expect(
      await db.accessRequest.findUniqueOrThrow({ where: { id: onProd.id }, select: { status: true } }),
    ).toEqual({ status: "pending" });

    expect(await scoped.approvals.approveAccess({ id: onSandbox.id, reason: "ok" })).toMatchObject({
      status: "approved",
    });
  });

  it("lists, reads and decides held statements of its connections only", async () => {
    const onProd = await holdStatement(prodId);
    const onSandbox = await holdStatement(sandboxId);
    const scoped = apiCaller(db, tokens.scopedApprover);

    expect((await scoped.approvals.list({ status: "pending" })).items.map((i) => i.id)).toEqual([
      onSandbox.id,
    ]);
    expect((await scoped.approvals.get({ id: onSandbox.id })).id).toBe(onSandbox.id);
    expect(await refusal(scoped.approvals.get({ id: onProd.id }))).toEqual({
      code: "NOT_FOUND",
      message: `No approval ${onProd.id}`,
    });
    expect((await refusal(scoped.approvals.approve({ id: onProd.id, reason: "ok" }))).code).toBe("NOT_FOUND");
    expect((await refusal(scoped.approvals.deny({ id: onProd.id, reason: "no" }))).code).toBe("NOT_FOUND");
    expect(
      await db.approval.findUniqueOrThrow({ where: { id: onProd.id }, select: { status: true } }),
    ).toEqual({
      status: "pending",
    });
    expect(await db.approvalDecision.count({ where: { approvalId: onProd.id } })).toBe(0);
  });

  it("is held to the same scope over the REST API", async () => {
    const onProd = await holdStatement(prodId);
    const headers = { authorization: `Bearer ${tokens.scopedApprover}` };
    const list = await handleRest(() =>
      approvalsRest.list(db, new Request("http://x/api/v1/approvals?status=pending", { headers })),
    );
    const ids = ((await list.json()) as { items: { connection: { id: string } }[] }).items.map(
      (i) => i.connection.id,
    );
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id === sandboxId)).toBe(true);
    const decide = await handleRest(() =>
      approvalsRest.decide(db, new Request("http://x", { method: "POST", headers }), onProd.id, true),
    );
    expect(decide.status).toBe(404);
    const requests = await handleRest(() =>
      approvalsRest.listAccessRequests(db, new Request("http://x/api/v1/access-requests", { headers })),
    );
    const requestConnections = (
      (await requests.json()) as { items: { connection: { id: string } }[] }
    ).items.map((i) => i.connection.id);
    expect(requestConnections.every((id) => id === sandboxId)).toBe(true);
  });
});
