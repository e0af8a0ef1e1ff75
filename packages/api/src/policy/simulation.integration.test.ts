// The access simulator answers from the snapshot agents enforce: who holds a valid credential, which masking
// applies to them, and what the guardrails do with risky statements from each.
import { createDb, deriveSecretKey, type TDb } from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { PRODUCTION_BASELINE } from "@portcullis/policy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCaller, seedApiTestStore } from "../test-support.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let connectionId: string;
const secretKey = deriveSecretKey("simulation-test-secret");

const caller = (token: string) => apiCaller(db, token, secretKey);

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 2 });
  ({ connectionId } = await seedApiTestStore(db, {
    guardrails: [
      {
        name: "AI agents are read-only",
        priority: 1,
        action: "block",
        message: "read only",
        match: { identityKinds: ["ai_agent"], classes: ["write", "ddl", "privilege", "admin"] },
      },
      ...PRODUCTION_BASELINE.map((g) => ({ ...g, match: g.match as Record<string, unknown> })),
    ],
    maskingRules: [
      { name: "Mask SSNs", columnPattern: "customers.ssn", detector: null, strategy: "partial" },
      { name: "Mask emails", columnPattern: "customers.email", detector: null, strategy: "partial" },
    ],
  }));
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("access simulator", () => {
  it("lists who can connect, their masking, and who could run a risky statement without an approval", async () => {
    const emails = (await caller("pcat_admin").policy.rules({ connectionId })).maskingRules.find(
      (m) => m.name === "Mask emails",
    )!;
    await caller("pcat_admin").policy.saveMaskingRule({
      id: emails.id,
      scope: { connectionId },
      fields: {
        name: emails.name,
        columnPattern: emails.columnPattern,
        detector: null,
        strategy: emails.strategy,
        exemptIdentities: ["copilot@demo.local"],
      },
    });
    const result = await caller("pcat_admin").policy.simulate({
      connectionId,
      statements: [
        "drop table customers",
        "delete from customers",
        "update customers set email = null where id = 1",
      ],
    });
    expect(result.identities.map((i) => [i.name, i.kind])).toEqual([
      ["copilot@demo.local", "ai_agent"],
      ["dev@demo.local", "human"],
    ]);
    const dev = result.identities.find((i) => i.name === "dev@demo.local")!;
    expect(dev.maskedBy.sort()).toEqual(["Mask SSNs", "Mask emails"]);
    expect(dev.decisions.map((d) => d.action)).toEqual(["block", "require_approval", "allow"]);
    const copilot = result.identities.find((i) => i.name === "copilot@demo.local")!;
    expect(copilot.exemptFrom).toEqual(["Mask emails"]);
    expect(copilot.decisions.map((d) => [d.action, d.ruleName])).toEqual([
      ["block", "AI agents are read-only"],
      ["block", "AI agents are read-only"],
      ["block", "AI agents are read-only"],
    ]);
  });

  it("is for the people who review policy, not members", async () => {
    await expect(caller("pcat_dev").policy.simulate({ connectionId })).rejects.toThrow(
      /Requires one of the roles/,
    );
  });
});
