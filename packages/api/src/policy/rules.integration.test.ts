// Rule editing through the tRPC router, as the dashboard calls it: roles, validation, the revision bump that
// makes agents re-pull, and the audit record of who changed what from what to what.
import { createDb, getPolicyRevision, listAuditEvents, verifyAuditChain, type TDb } from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCaller, seedApiTestStore } from "../test-support.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let connectionId: string;

const callerWith = (token: string) => apiCaller(db, token);
const admin = () => callerWith("pcat_admin");
const developer = () => callerWith("pcat_dev");

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 2 });
  await seedApiTestStore(db, {
    guardrails: [],
    maskingRules: [
      { name: "Mask SSNs", columnPattern: "customers.ssn", detector: null, strategy: "partial" },
    ],
  });
  const connections = await admin().policy.connections();
  connectionId = connections.find((c) => c.name === "demo")!.id;
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return "OK";
  } catch (error) {
    return error instanceof TRPCError ? error.code : String(error);
  }
};

describe("policy rule editing", () => {
  it("changes a masking rule, bumps the revision and audits the change from and to", async () => {
    const before = await admin().policy.rules({ connectionId });
    const rule = before.maskingRules.find((m) => m.name === "Mask SSNs")!;
    expect(rule).toMatchObject({ scope: "connection", strategy: "partial", enabled: true });
    const revision = await getPolicyRevision(db);

    const saved = await admin().policy.saveMaskingRule({
      id: rule.id,
      scope: { connectionId },
      fields: {
        name: rule.name,
        columnPattern: rule.columnPattern,
        detector: null,
        strategy: "redact",
        exemptIdentities: [],
        exemptGroups: [],
        enabled: true,
      },
    });
    expect(saved.strategy).toBe("redact");
    expect(await getPolicyRevision(db)).toBe(revision + 1);

    const { items } = await listAuditEvents(db, { type: "admin_change" }, { limit: 10 });
    const change = items.find((e) => e.ruleId === rule.id)!;
    expect(change).toMatchObject({
      actorName: "admin@demo.local",
      connectionName: "demo",
      environment: "production",
      message: 'updated masking rule "Mask SSNs"',
    });
    expect(change.details).toMatchObject({
      before: { strategy: "partial" },
      after: { strategy: "redact" },
      revision: revision + 1,
    });
    expect((await verifyAuditChain(db)).ok).toBe(true);
  });

  it("creates and deletes a guardrail, each change audited", async () => {
    const created = await admin().policy.saveGuardrail({
      scope: { connectionId },
      fields: {
        name: "No deletes on orders",
        priority: 5,
        action: "block",
        message: "orders are append-only",
        match: { classes: ["write"], tables: ["orders"], commands: ["DeleteStmt"] },
      },
    });
    const preview = await admin().policy.preview({
      connection: "demo",
      sql: "delete from orders where id = 1",
    });
    expect(preview.decision).toMatchObject({ action: "block", ruleName: "No deletes on orders" });

    // Listed with where it applies: an environment's rule names its environment, so the editor saves it
    // back there (apps/web policy/rule-scope.ts).
    const envRule = await admin().policy.saveGuardrail({
      scope: { environment: "production" },
      fields: {
        name: "Env rule",
        priority: 6,
        action: "block",
        message: "no",
        match: { commands: ["DoStmt"] },
      },
    });
    expect(envRule).toMatchObject({ scope: "environment", environment: "production" });
    expect(created).toMatchObject({ scope: "connection", environment: null });
    await admin().policy.deleteGuardrail({ id: envRule.id });

    await admin().policy.deleteGuardrail({ id: created.id });
    const after = await admin().policy.preview({
      connection: "demo",
      sql: "delete from orders where id = 1",
    });
    expect(after.decision.action).toBe("allow");
    const { items } = await listAuditEvents(db, { type: "admin_change" }, { limit: 10 });
    expect(items.filter((e) => e.ruleId === created.id).map((e) => e.message)).toEqual([
      'deleted guardrail "No deletes on orders"',
      'created guardrail "No deletes on orders"',
    ]);
  });

  it("refuses rules the engine could not read, and says why", async () => {
    const bad = admin().policy.saveGuardrail({
      scope: { connectionId },
      fields: { name: "typo", priority: 1, action: "block", message: "x", match: { clases: ["write"] } },
    });
    await expect(bad).rejects.toThrow(/Invalid match criteria/);
    expect(
      await codeOf(
        admin().policy.saveMaskingRule({
          scope: { connectionId },
          fields: { name: "both", columnPattern: "a.b", detector: "email", strategy: "redact" },
        }),
      ),
    ).toBe("BAD_REQUEST");
    expect(
      await codeOf(
        admin().policy.saveMaskingRule({
          scope: { connectionId },
          fields: { name: "unknown", columnPattern: null, detector: "horoscope", strategy: "redact" },
        }),
      ),
    ).toBe("BAD_REQUEST");
  });

  it("lets a member neither read nor edit rules", async () => {
    expect(await codeOf(developer().policy.rules({ connectionId }))).toBe("FORBIDDEN");
    expect(
      await codeOf(
        developer().policy.saveGuardrail({
          scope: { connectionId },
          fields: { name: "mine", priority: 1, action: "allow", message: "x", match: { classes: ["ddl"] } },
        }),
      ),
    ).toBe("FORBIDDEN");
    expect(await codeOf(callerWith("pcat_wrong").policy.connections())).toBe("UNAUTHORIZED");
  });
});
