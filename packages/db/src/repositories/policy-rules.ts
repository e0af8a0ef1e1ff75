// Editing guardrails and masking rules. Each change, the policy revision bump that makes the gateway push a
// new snapshot to agents (within a second), and the audit record of who changed which rule from what to
// what commit in one transaction: a rule never changes unaudited, and an audited change always reaches agents.
import type { TDb } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { appendAuditEventsIn, controlPlaneEvent } from "./audit-events.ts";
import { bumpPolicyRevision } from "./policy.ts";

export interface TAdminActor {
  id: string;
  name: string;
  kind: "human" | "service" | "ai_agent";
}

/** A rule belongs to one connection, or to every connection of an environment (null: of every environment). */
export type TRuleScope = { connectionId: string } | { environment: string | null };

export interface TGuardrailFields {
  name: string;
  description: string;
  priority: number;
  enabled: boolean;
  action: "allow" | "block" | "require_approval";
  message: string;
  match: Record<string, unknown>;
  /**
   * For require_approval: distinct approvers needed (1-5), and the group they must belong to. Absent: a new
   * rule gets one approver from anyone, an edited one keeps what it had.
   */
  requiredApprovals?: number;
  approverGroup?: string | null;
}

export interface TMaskingRuleFields {
  name: string;
  columnPattern: string | null;
  detector: string | null;
  strategy: "redact" | "partial" | "hash" | "null" | "format_preserving";
  exemptIdentities: string[];
  exemptGroups: string[];
  enabled: boolean;
}

const guardrailSelect = {
  id: true,
  connectionId: true,
  environment: true,
  name: true,
  description: true,
  priority: true,
  enabled: true,
  action: true,
  message: true,
  match: true,
  requiredApprovals: true,
  approverGroup: true,
  updatedAt: true,
} as const;

const maskingRuleSelect = {
  id: true,
  connectionId: true,
  environment: true,
  name: true,
  columnPattern: true,
  detector: true,
  strategy: true,
  exemptIdentities: true,
  exemptGroups: true,
  enabled: true,
  updatedAt: true,
} as const;

export type TGuardrailRow = Omit<Prisma.GuardrailGetPayload<{ select: typeof guardrailSelect }>, "match"> & {
  match: Record<string, unknown>;
};
export type TMaskingRuleRow = Prisma.MaskingRuleGetPayload<{ select: typeof maskingRuleSelect }>;

export class RuleNotFoundError extends Error {
  constructor(kind: string, id: string) {
    super(`${kind} ${id} does not exist`);
    this.name = "RuleNotFoundError";
  }
}

const asGuardrail = (row: Prisma.GuardrailGetPayload<{ select: typeof guardrailSelect }>): TGuardrailRow => ({
  ...row,
  match: (row.match ?? {}) as Record<string, unknown>,
});

/** Every rule that applies to a connection, enabled or not: its own, its environment's and global ones. */
/** The rules that apply to a connection: its own, its environment's, and those of every environment. */
function rulesApplyingTo(connectionId: string, environment: string) {
  return {
    OR: [{ connectionId }, { connectionId: null, environment }, { connectionId: null, environment: null }],
  };
}

export async function listConnectionRules(
  db: TDb,
  connectionId: string,
): Promise<{
  connection: { id: string; name: string; environment: string };
  guardrails: TGuardrailRow[];
  maskingRules: TMaskingRuleRow[];
} | null> {
  const connection = await db.connection.findUnique({
    where: { id: connectionId },
    select: { id: true, name: true, environment: true },
  });
  if (!connection) return null;
  const applies = rulesApplyingTo(connectionId, connection.environment);
  const [guardrails, maskingRules] = await Promise.all([
    db.guardrail.findMany({
      where: applies,
      orderBy: [{ priority: "asc" }, { createdAt: "asc" }],
      select: guardrailSelect,
    }),
    db.maskingRule.findMany({ where: applies, orderBy: { createdAt: "asc" }, select: maskingRuleSelect }),
  ]);
  return { connection, guardrails: guardrails.map(asGuardrail), maskingRules };
}

/**
 * Called, inside the change's transaction, with the scope of the rule as stored (when it exists) and as it
 * will be: throws to refuse the change (a caller whose token does not reach that scope).
 */
export type TMayChangeRule = (scope: { connectionId: string | null; environment: string | null }) => void;

export async function saveGuardrail(
  db: TDb,
  actor: TAdminActor,
  input: { id?: string; scope: TRuleScope; fields: TGuardrailFields },
  mayChange: TMayChangeRule = () => undefined,
): Promise<TGuardrailRow> {
  return db.$transaction(async (tx) => {
    const before = input.id
      ? await tx.guardrail.findUnique({ where: { id: input.id }, select: guardrailSelect })
      : null;
    if (input.id && !before) throw new RuleNotFoundError("guardrail", input.id);
    if (before) mayChange(before);
    mayChange(scopeColumns(input.scope));
    const data = {
      ...scopeColumns(input.scope),
      ...input.fields,
      match: input.fields.match as Prisma.InputJsonValue,
    };
    const after = before
      ? await tx.guardrail.update({ where: { id: before.id }, data, select: guardrailSelect })
      : await tx.guardrail.create({ data, select: guardrailSelect });
    await recordChange(tx, actor, {
      kind: "guardrail",
      verb: before ? "updated" : "created",
      id: after.id,
      name: after.name,
      before: before ? asGuardrail(before) : null,
      after: asGuardrail(after),
    });
    return asGuardrail(after);
  });
}

export async function deleteGuardrail(
  db: TDb,
  actor: TAdminActor,
  id: string,
  mayChange: TMayChangeRule = () => undefined,
): Promise<void> {
  await db.$transaction(async (tx) => {
    const before = await tx.guardrail.findUnique({ where: { id }, select: guardrailSelect });
    if (!before) throw new RuleNotFoundError("guardrail", id);
    mayChange(before);
    await tx.guardrail.delete({ where: { id } });
    await recordChange(tx, actor, {
      kind: "guardrail",
      verb: "deleted",
      id,
      name: before.name,
      before: asGuardrail(before),
      after: null,
    });
  });
}

export async function saveMaskingRule(
  db: TDb,
  actor: TAdminActor,
  input: { id?: string; scope: TRuleScope; fields: TMaskingRuleFields },
  mayChange: TMayChangeRule = () => undefined,
): Promise<TMaskingRuleRow> {
  return db.$transaction(async (tx) => {
    const before = input.id
      ? await tx.maskingRule.findUnique({ where: { id: input.id }, select: maskingRuleSelect })
      : null;
    if (input.id && !before) throw new RuleNotFoundError("masking rule", input.id);
    if (before) mayChange(before);
    mayChange(scopeColumns(input.scope));
    const data = { ...scopeColumns(input.scope), ...input.fields };
    const after = before
      ? await tx.maskingRule.update({ where: { id: before.id }, data, select: maskingRuleSelect })
      : await tx.maskingRule.create({ data, select: maskingRuleSelect });
    await recordChange(tx, actor, {
      kind: "masking rule",
      verb: before ? "updated" : "created",
      id: after.id,
      name: after.name,
      before,
      after,
    });
    return after;
  });
}

export async function deleteMaskingRule(
  db: TDb,
  actor: TAdminActor,
  id: string,
  mayChange: TMayChangeRule = () => undefined,
): Promise<void> {
  await db.$transaction(async (tx) => {
    const before = await tx.maskingRule.findUnique({ where: { id }, select: maskingRuleSelect });
    if (!before) throw new RuleNotFoundError("masking rule", id);
    mayChange(before);
    await tx.maskingRule.delete({ where: { id } });
    await recordChange(tx, actor, {
      kind: "masking rule",
      verb: "deleted",
      id,
      name: before.name,
      before,
      after: null,
    });
  });
}

function scopeColumns(scope: TRuleScope): { connectionId: string | null; environment: string | null } {
  return "connectionId" in scope
    ? { connectionId: scope.connectionId, environment: null }
    : { connectionId: null, environment: scope.environment };
}

type TRuleSnapshot = { connectionId: string | null; environment: string | null; updatedAt?: Date };

/** Bumps the revision and appends one admin_change event naming the rule and both of its versions. */
async function recordChange(
  tx: Prisma.TransactionClient,
  actor: TAdminActor,
  change: {
    kind: "guardrail" | "masking rule";
    verb: "created" | "updated" | "deleted";
    id: string;
    name: string;
    before: TRuleSnapshot | null;
    after: TRuleSnapshot | null;
  },
): Promise<void> {
  const revision = await bumpPolicyRevision(tx);
  const scope = change.after ?? change.before!;
  const connection = scope.connectionId
    ? await tx.connection.findUnique({
        where: { id: scope.connectionId },
        select: { name: true, environment: true },
      })
    : null;
  const strip = (rule: TRuleSnapshot | null) => {
    if (!rule) return null;
    const { updatedAt: _updatedAt, ...rest } = rule;
    return rest;
  };
  await appendAuditEventsIn(tx, [
    controlPlaneEvent({
      type: "admin_change",
      actor,
      decision: "allowed",
      message: `${change.verb} ${change.kind} "${change.name}"`,
      connection: connection && scope.connectionId ? { id: scope.connectionId, ...connection } : null,
      environment: scope.environment,
      ruleId: change.id,
      ruleName: change.name,
      details: {
        kind: change.kind,
        verb: change.verb,
        revision,
        before: strip(change.before),
        after: strip(change.after),
      },
    }),
  ]);
}

export async function listConnectionSummaries(
  db: TDb,
): Promise<{ id: string; name: string; environment: string }[]> {
  return db.connection.findMany({
    orderBy: { name: "asc" },
    select: { id: true, name: true, environment: true },
  });
}

export async function connectionExists(db: TDb, id: string): Promise<boolean> {
  return (await db.connection.count({ where: { id } })) > 0;
}

/**
 * Who must decide on a statement held by guardrail `ruleId` on this connection: that rule's approver count
 * and group. An id that names no require_approval rule applying there (a built-in verdict, an older or
 * buggy agent, a rule deleted since) gets the strictest requirement among the connection's enabled
 * require_approval rules, so a wrong id never lowers the bar; with none, one approver from anyone.
 */
export async function approvalRequirement(
  db: TDb,
  connectionId: string,
  ruleId: string | null,
): Promise<{ requiredApprovals: number; requiredGroup: string | null }> {
  const connection = await db.connection.findUnique({
    where: { id: connectionId },
    select: { environment: true },
  });
  if (!connection) return { requiredApprovals: 1, requiredGroup: null };
  const rules = await db.guardrail.findMany({
    where: { action: "require_approval", ...rulesApplyingTo(connectionId, connection.environment) },
    select: { id: true, enabled: true, requiredApprovals: true, approverGroup: true },
  });
  // Disabled since the agent decided is still the rule that held the statement.
  const named = rules.find((r) => r.id === ruleId);
  const strictest = rules
    .filter((r) => r.enabled)
    .reduce<(typeof rules)[number] | undefined>((best, r) => {
      if (!best) return r;
      if (r.requiredApprovals !== best.requiredApprovals)
        return r.requiredApprovals > best.requiredApprovals ? r : best;
      return best.approverGroup === null && r.approverGroup !== null ? r : best;
    }, undefined);
  const rule = named ?? strictest;
  return rule
    ? { requiredApprovals: rule.requiredApprovals, requiredGroup: rule.approverGroup }
    : { requiredApprovals: 1, requiredGroup: null };
}
