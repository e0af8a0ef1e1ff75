// Approvals below the UI: a real gateway and agent link on a real store, the guardrail's approver count and
// group copied onto the request the agent raises, and decisions through the tRPC router.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlaneLink } from "@portcullis/agent/src/link/control-plane-link.ts";
import { AuditSpool } from "@portcullis/agent/src/spool/audit-spool.ts";
import { createApiToken, createDb, deriveSecretKey, issueEnrollmentToken, type TDb } from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachAgentGateway, type TAgentGateway } from "../agent-link/gateway.ts";
import { registerAgentGateway } from "../agent-link/registry.ts";
import { apiCaller, refusal, seedApiTestStore, TEST_TOKENS } from "../test-support.ts";

const logger = pino({ level: "silent" });
const secretKey = deriveSecretKey("test-secret-key-123");

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let server: Server;
let gateway: TAgentGateway;
let workDir: string;
let spool: AuditSpool;
let link: ControlPlaneLink;
let connectionId: string;
let developerId: string;
/** API tokens of two approvers in the "dba" group and one outside it. */
const tokens = { dbaOne: "", dbaTwo: "", outsider: "" };

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function approver(name: string, groups: string[]): Promise<string> {
  const identity = await db.identity.create({
    data: {
      name,
      displayName: name,
      kind: "human",
      roles: ["approver"],
      memberships: {
        create: groups.map((group) => ({
          group: { connectOrCreate: { where: { name: group }, create: { name: group } } },
        })),
      },
    },
    select: { id: true },
  });
  const admin = { id: identity.id, name, kind: "human" as const };
  return (
    await createApiToken(db, admin, { identityId: identity.id, name, connectionIds: [], expiresAt: null })
  ).token;
}

/** What the agent sends when a statement hits `ruleId`: resolves once approvers decide. */
function holdStatement(ruleId: string, statement: string) {
  const approvalId = randomUUID();
  const outcome = link.requestApproval(
    {
      approvalId,
      sessionId: randomUUID(),
      identityId: developerId,
      connectionId,
      statement,
      statementClass: "write",
      tables: ["public.orders"],
      ruleId,
      ruleName: "Production writes",
      message: "needs approval",
    },
    30_000,
  );
  let settled = false;
  void outcome.then(() => (settled = true));
  return { approvalId, outcome, settled: () => settled };
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 4 });
  ({ connectionId } = await seedApiTestStore(db, { guardrails: [], maskingRules: [] }));
  developerId = (await db.identity.findUniqueOrThrow({ where: { name: "dev@demo.local" } })).id;
  tokens.dbaOne = await approver("dba-one@example.com", ["dba"]);
  tokens.dbaTwo = await approver("dba-two@example.com", ["dba", "sre"]);
  tokens.outsider = await approver("outsider@example.com", ["sre"]);

  server = createServer((_req, res) => res.writeHead(404).end());
  gateway = attachAgentGateway(server, { db, secretKey, logger, policyPollMs: 100 });
  registerAgentGateway(gateway);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  workDir = await mkdtemp(join(tmpdir(), "pc-approvals-"));
  spool = await AuditSpool.open(join(workDir, "spool"));
  link = new ControlPlaneLink({
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    enrollmentToken: (await issueEnrollmentToken(db, "agent")).token,
    credentialFile: join(workDir, "credential.json"),
    policyCacheFile: join(workDir, "policy-cache.json"),
    agentVersion: "0.1.0-test",
    hostname: "test-host",
    logger,
    spool,
  });
  link.start();
  await until("the agent's link", () => link.connected);
});

afterAll(async () => {
  await link?.stop();
  await spool?.close();
  registerAgentGateway(null);
  await gateway?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await db?.$disconnect();
  await database?.drop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe("approvals that need more than one approver", () => {
  it("holds the statement until two approvers of the rule's group have approved", async () => {
    const admin = apiCaller(db, TEST_TOKENS.admin);
    const rule = await admin.policy.saveGuardrail({
      scope: { connectionId },
      fields: {
        name: "Production writes",
        priority: 10,
        action: "require_approval",
        message: "two DBAs approve production writes",
        match: { classes: ["write"] },
        requiredApprovals: 2,
        approverGroup: "dba",
      },
    });
    expect(rule).toMatchObject({ requiredApprovals: 2, approverGroup: "dba" });

    const held = holdStatement(rule.id, "UPDATE orders SET total = 0");
    await until(
      "the request",
      async () => (await db.approval.count({ where: { id: held.approvalId } })) === 1,
    );
    const approve = (token: string) =>
      apiCaller(db, token).approvals.approve({ id: held.approvalId, reason: "checked" });

    expect(await refusal(approve(tokens.outsider))).toEqual({
      code: "CONFLICT",
      message: "Only members of dba can decide on this request",
    });
    const first = await approve(tokens.dbaOne);
    expect(first).toMatchObject({ status: "pending", requiredApprovals: 2 });
    expect(first.decisions).toHaveLength(1);
    expect(await refusal(approve(tokens.dbaOne))).toEqual({
      code: "CONFLICT",
      message: "You have already decided on this request",
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(held.settled()).toBe(false);

    expect(await approve(tokens.dbaTwo)).toMatchObject({ status: "approved" });
    expect(await held.outcome).toEqual({
      approved: true,
      decidedBy: "dba-two@example.com",
      reason: "checked",
    });
  });

  it("lets one denial from the group refuse the statement at once", async () => {
    const rule = (await db.guardrail.findFirstOrThrow({ where: { name: "Production writes" } })).id;
    const held = holdStatement(rule, "DELETE FROM orders");
    await until(
      "the request",
      async () => (await db.approval.count({ where: { id: held.approvalId } })) === 1,
    );
    await apiCaller(db, tokens.dbaOne).approvals.deny({ id: held.approvalId, reason: "not on a Friday" });
    expect(await held.outcome).toEqual({
      approved: false,
      decidedBy: "dba-one@example.com",
      reason: "not on a Friday",
    });
  });

  it("keeps approvers where a rule asks for approval, and never lowers them for an unknown rule", async () => {
    const admin = apiCaller(db, TEST_TOKENS.admin);
    const fields = {
      name: "No drops",
      priority: 5,
      message: "no",
      match: { commands: ["DropStmt"] },
      requiredApprovals: 3,
      approverGroup: "dba",
    };
    const block = await admin.policy.saveGuardrail({
      scope: { connectionId },
      fields: { ...fields, action: "block" },
    });
    expect(block).toMatchObject({ requiredApprovals: 1, approverGroup: null });
    expect(
      (
        await refusal(
          admin.policy.saveGuardrail({
            scope: { connectionId },
            fields: { ...fields, action: "require_approval", requiredApprovals: 6 },
          }),
        )
      ).code,
    ).toBe("BAD_REQUEST");
    // A client that predates the approver fields edits the rule: what it does not send stays as it was.
    const approvals = (await db.guardrail.findFirstOrThrow({ where: { name: "Production writes" } })).id;
    const edited = await admin.policy.saveGuardrail({
      id: approvals,
      scope: { connectionId },
      fields: {
        name: "Production writes",
        priority: 10,
        action: "require_approval",
        message: "two DBAs approve production writes (edited)",
        match: { classes: ["write"] },
      },
    });
    expect(edited).toMatchObject({ requiredApprovals: 2, approverGroup: "dba" });

    // An id the store does not know for this connection (a built-in verdict, an older or buggy agent) does
    // not lower the bar: the strictest require_approval rule that applies decides who must approve.
    const held = holdStatement("builtin-unbounded-write", "UPDATE orders SET total = 1");
    await until(
      "the request",
      async () => (await db.approval.count({ where: { id: held.approvalId } })) === 1,
    );
    expect(
      await db.approval.findUniqueOrThrow({
        where: { id: held.approvalId },
        select: { requiredApprovals: true, requiredGroup: true },
      }),
    ).toEqual({ requiredApprovals: 2, requiredGroup: "dba" });
    const approve = (token: string) =>
      apiCaller(db, token).approvals.approve({ id: held.approvalId, reason: "fine" });
    expect((await refusal(approve(tokens.outsider))).code).toBe("CONFLICT");
    await approve(tokens.dbaOne);
    await approve(tokens.dbaTwo);
    expect((await held.outcome).approved).toBe(true);
  });
});
