import { beforeAll, describe, expect, it } from "vitest";
import { analyzeSql, initParser } from "./analyze.ts";
import {
  compileGuardrails,
  decideUnparseable,
  evaluateGuardrails,
  PRODUCTION_BASELINE,
  type TGuardrail,
  type TRequestContext,
} from "./guardrails.ts";

beforeAll(() => initParser());

const baseline: TGuardrail[] = PRODUCTION_BASELINE.map((rule, i) => ({ ...rule, id: `baseline-${i}` }));
const dev: TRequestContext = {
  environment: "production",
  identityName: "dev@demo.local",
  identityKind: "human",
  groups: [],
};

function decide(sql: string, rules: TGuardrail[] = baseline, ctx: TRequestContext = dev) {
  const result = analyzeSql(sql);
  if (!result.ok) return decideUnparseable(ctx, result.error);
  return (
    result.statements
      .map((s) => evaluateGuardrails(s, ctx, compileGuardrails(rules)))
      .find((d) => d.action !== "allow") ?? {
      action: "allow" as const,
      ruleName: "",
      ruleId: "",
      message: "",
    }
  );
}

describe("production baseline", () => {
  it.each([
    "drop table customers",
    "DROP TABLE IF EXISTS customers CASCADE",
    "/**/drop/**/table/**/customers",
    "truncate orders",
    "select 1; drop table customers",
  ])("blocks destructive DDL: %s", (sql) => {
    const d = decide(sql);
    expect(d.action).toBe("block");
    expect(d.ruleName).toBe("Block destructive DDL");
  });

  it("blocks privilege changes", () => {
    expect(decide("grant all on customers to public").action).toBe("block");
  });

  it.each([
    "alter table customers drop column ssn",
    "create table t (id int)",
    "update customers set phone = null",
    "do $$ begin delete from orders; end $$",
  ])("requires approval: %s", (sql) => {
    expect(decide(sql).action).toBe("require_approval");
  });

  it.each([
    "select * from customers",
    "update customers set phone = phone where id = 1",
    "begin",
    "show search_path",
  ])("allows %s", (sql) => {
    expect(decide(sql).action).toBe("allow");
  });

  it("fails closed on unparseable text in production only", () => {
    expect(decide("selec 1").action).toBe("block");
    expect(decide("selec 1", baseline, { ...dev, environment: "development" }).action).toBe("allow");
  });
});

describe("rule matching", () => {
  const devWrites: TGuardrail = {
    id: "dev-writes",
    name: "Developer writes need approval",
    priority: 5,
    action: "require_approval",
    message: "Writes by developers need an approval",
    match: { classes: ["write"], identities: ["dev@demo.local"] },
  };

  it("matches on identity and class", () => {
    expect(decide("insert into orders (customer_id) values (1)", [devWrites]).ruleId).toBe("dev-writes");
    expect(
      decide("insert into orders (customer_id) values (1)", [devWrites], {
        ...dev,
        identityName: "copilot@demo.local",
      }).action,
    ).toBe("allow");
  });

  it("matches tables by prefix pattern and schema-qualified names", () => {
    const rule: TGuardrail = {
      id: "t",
      name: "No audit tables",
      priority: 1,
      action: "block",
      message: "no",
      match: { tables: ["audit_*"] },
    };
    expect(decide("select * from public.audit_log", [rule]).action).toBe("block");
    expect(decide("select * from customers", [rule]).action).toBe("allow");
  });

  it("blocks in production when a rule's criteria are invalid", () => {
    const broken: TGuardrail = {
      id: "b",
      name: "Broken",
      priority: 1,
      action: "allow",
      message: "",
      match: { clases: ["read"] },
    };
    expect(decide("select 1", [broken]).action).toBe("block");
    expect(decide("select 1", [broken], { ...dev, environment: "staging" }).action).toBe("allow");
  });
});
