// The dashboard's preview against a real store seeded like the demo: the same decisions the agent makes.
import { createDb, type TDb } from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { PRODUCTION_BASELINE } from "@portcullis/policy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TCaller } from "../auth.ts";
import { callerOf, seedApiTestStore, TEST_TOKENS } from "../test-support.ts";
import { policyService } from "./service.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let admin: TCaller;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 2 });
  await seedApiTestStore(db, {
    guardrails: PRODUCTION_BASELINE.map((g) => ({ ...g, match: g.match as Record<string, unknown> })),
    maskingRules: [
      { name: "Mask SSNs", columnPattern: "customers.ssn", detector: null, strategy: "partial" },
    ],
  });
  admin = await callerOf(db, TEST_TOKENS.admin);
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("policy preview", () => {
  it("names the rule that blocks a statement", async () => {
    const preview = await policyService.preview(db, admin, {
      connection: "demo",
      sql: "select 1; DROP TABLE customers",
    });
    expect(preview.decision).toMatchObject({ action: "block", ruleName: "Block destructive DDL" });
    expect(preview.statements.map((s) => s.decision.action)).toEqual(["allow", "block"]);
    expect(preview.statements[1]).toMatchObject({
      class: "ddl",
      destructive: true,
      tablesWritten: ["customers"],
    });
  });

  it("explains masking of derived values and refusals", async () => {
    const derived = await policyService.preview(db, admin, {
      connection: "demo",
      sql: "select lower(ssn) from customers",
    });
    expect(derived.statements[0]?.masking).toMatchObject({
      computedColumnsMasked: true,
      sensitiveColumns: ["customers.ssn"],
    });
    const copy = await policyService.preview(db, admin, {
      connection: "demo",
      sql: "copy customers to stdout",
    });
    expect(copy.decision.action).toBe("block");
  });

  it("evaluates draft rules before they are saved", async () => {
    const sql = "select email from customers";
    expect((await policyService.preview(db, admin, { connection: "demo", sql })).decision.action).toBe(
      "allow",
    );
    const withDraft = await policyService.preview(db, admin, {
      connection: "demo",
      sql,
      draftGuardrails: [
        {
          name: "No email reads",
          priority: 1,
          action: "block",
          message: "no",
          match: { columns: ["customers.email"] },
        },
      ],
      draftMaskingRules: [
        { name: "Mask emails", columnPattern: "customers.email", detector: null, strategy: "partial" },
      ],
    });
    expect(withDraft.decision).toMatchObject({ action: "block", ruleName: "No email reads" });
    expect(withDraft.statements[0]?.masking.sensitiveColumns).toEqual(["customers.email"]);
  });

  it("reports unparseable text and unknown connections clearly", async () => {
    const bad = await policyService.preview(db, admin, { connection: "demo", sql: "selec 1" });
    expect(bad.parseError).toMatch(/syntax error/);
    expect(bad.decision.action).toBe("block");
    await expect(
      policyService.preview(db, admin, { connection: "nope", sql: "select 1" }),
    ).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    await expect(policyService.preview(db, admin, { connection: "demo", sql: "" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
  });
});
