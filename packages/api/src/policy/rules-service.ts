// Guardrail and masking-rule editing. Rules are validated with the same engine schemas the agent compiles
// them with, so a saved rule never reaches an agent as one it cannot read (which would fail closed there).
import {
  connectionExists,
  deleteGuardrail,
  deleteMaskingRule,
  listConnectionRules,
  listConnectionSummaries,
  RuleNotFoundError,
  saveGuardrail,
  saveMaskingRule,
  type TDb,
  type TMayChangeRule,
} from "@portcullis/db";
import { ZDetectorId, ZGuardrailMatch } from "@portcullis/policy";
import { z } from "zod";
import { connectionScopeOf, coversConnection, requireUnscoped, type TCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
import {
  ZConnectionList,
  ZConnectionRules,
  ZConnectionRulesInput,
  ZDeleteRuleInput,
  ZGuardrailDto,
  ZMaskingRuleDto,
  ZSaveGuardrailInput,
  ZSaveMaskingRuleInput,
  type TConnectionRules,
  type TGuardrailDto,
  type TMaskingRuleDto,
} from "./schemas.ts";

const scopeOf = (rule: { connectionId: string | null; environment: string | null }) =>
  rule.connectionId ? "connection" : rule.environment ? "environment" : "global";

function toGuardrailDto(row: Parameters<typeof scopeOf>[0] & Omit<TGuardrailDto, "scope">): TGuardrailDto {
  return {
    id: row.id,
    scope: scopeOf(row),
    environment: row.connectionId ? null : row.environment,
    name: row.name,
    description: row.description,
    priority: row.priority,
    enabled: row.enabled,
    action: row.action,
    message: row.message,
    match: row.match,
    requiredApprovals: row.requiredApprovals,
    approverGroup: row.approverGroup,
    updatedAt: row.updatedAt,
  };
}

function toMaskingRuleDto(
  row: Parameters<typeof scopeOf>[0] & Omit<TMaskingRuleDto, "scope">,
): TMaskingRuleDto {
  return {
    id: row.id,
    scope: scopeOf(row),
    environment: row.connectionId ? null : row.environment,
    name: row.name,
    columnPattern: row.columnPattern,
    detector: row.detector,
    strategy: row.strategy,
    exemptIdentities: row.exemptIdentities,
    exemptGroups: row.exemptGroups,
    enabled: row.enabled,
    updatedAt: row.updatedAt,
  };
}

async function notFoundAsAppError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RuleNotFoundError) throw new AppError("NOT_FOUND", error.message);
    throw error;
  }
}

/**
 * A token scoped to connections edits rules of those connections only: global and environment rules reach
 * every connection (of the environment), so they need an unscoped token, and a rule of another connection is
 * neither moved nor changed. Checked on the rule as stored and as it will be.
 */
function ruleScopeGuard(caller: TCaller): TMayChangeRule {
  return (scope) => {
    if (scope.connectionId === null)
      requireUnscoped(caller, "Global and environment rules apply to connections beyond this token's");
    else if (!coversConnection(caller, scope.connectionId))
      throw new AppError("FORBIDDEN", "This API token is scoped to other connections");
  };
}

export const policyRulesService = {
  /** Connections by name and environment; a token scoped to connections sees only those. */
  async listConnections(db: TDb, caller: TCaller) {
    const scope = connectionScopeOf(caller);
    const rows = (await listConnectionSummaries(db)).filter((c) => !scope || scope.includes(c.id));
    return parseOutput(ZConnectionList, rows, "Connection list");
  },

  async connectionRules(db: TDb, caller: TCaller, rawInput: unknown): Promise<TConnectionRules> {
    const input = parseInput(ZConnectionRulesInput, rawInput);
    // Another connection's rules are as unknown to a scoped token as a connection that does not exist.
    const rules = coversConnection(caller, input.connectionId)
      ? await listConnectionRules(db, input.connectionId)
      : null;
    if (!rules) throw new AppError("NOT_FOUND", `No connection ${input.connectionId}`);
    return parseOutput(
      ZConnectionRules,
      {
        connection: rules.connection,
        guardrails: rules.guardrails.map(toGuardrailDto),
        maskingRules: rules.maskingRules.map(toMaskingRuleDto),
      },
      "Connection rules",
    );
  },

  async saveGuardrail(db: TDb, caller: TCaller, rawInput: unknown): Promise<TGuardrailDto> {
    const input = parseInput(ZSaveGuardrailInput, rawInput);
    const match = ZGuardrailMatch.safeParse(input.fields.match);
    if (!match.success)
      throw new AppError("BAD_REQUEST", `Invalid match criteria: ${z.prettifyError(match.error)}`);
    if (Object.keys(match.data).length === 0)
      throw new AppError("BAD_REQUEST", "A guardrail needs at least one match criterion");
    ruleScopeGuard(caller)(scopeColumnsOf(input.scope));
    await requireScope(db, input.scope);
    const row = await notFoundAsAppError(() =>
      saveGuardrail(
        db,
        caller.identity,
        {
          id: input.id,
          scope: input.scope,
          fields: {
            ...input.fields,
            match: match.data,
            // Approvers mean something only to a rule that asks for approval: others keep the defaults.
            ...(input.fields.action === "require_approval"
              ? {}
              : { requiredApprovals: 1, approverGroup: null }),
          },
        },
        ruleScopeGuard(caller),
      ),
    );
    return parseOutput(ZGuardrailDto, toGuardrailDto(row), "Guardrail");
  },

  async deleteGuardrail(db: TDb, caller: TCaller, rawInput: unknown): Promise<void> {
    const input = parseInput(ZDeleteRuleInput, rawInput);
    await notFoundAsAppError(() => deleteGuardrail(db, caller.identity, input.id, ruleScopeGuard(caller)));
  },

  async saveMaskingRule(db: TDb, caller: TCaller, rawInput: unknown): Promise<TMaskingRuleDto> {
    const input = parseInput(ZSaveMaskingRuleInput, rawInput);
    if (input.fields.detector !== null && !ZDetectorId.safeParse(input.fields.detector).success)
      throw new AppError(
        "BAD_REQUEST",
        `Unknown detector "${input.fields.detector}"; known: ${ZDetectorId.options.join(", ")}`,
      );
    ruleScopeGuard(caller)(scopeColumnsOf(input.scope));
    await requireScope(db, input.scope);
    const row = await notFoundAsAppError(() =>
      saveMaskingRule(
        db,
        caller.identity,
        { id: input.id, scope: input.scope, fields: input.fields },
        ruleScopeGuard(caller),
      ),
    );
    return parseOutput(ZMaskingRuleDto, toMaskingRuleDto(row), "Masking rule");
  },

  async deleteMaskingRule(db: TDb, caller: TCaller, rawInput: unknown): Promise<void> {
    const input = parseInput(ZDeleteRuleInput, rawInput);
    await notFoundAsAppError(() => deleteMaskingRule(db, caller.identity, input.id, ruleScopeGuard(caller)));
  },
};

function scopeColumnsOf(scope: { connectionId: string } | { environment: string | null }) {
  return "connectionId" in scope
    ? { connectionId: scope.connectionId, environment: null }
    : { connectionId: null, environment: scope.environment };
}

async function requireScope(db: TDb, scope: { connectionId: string } | { environment: string | null }) {
  if (!("connectionId" in scope)) return;
  if (!(await connectionExists(db, scope.connectionId)))
    throw new AppError("NOT_FOUND", `No connection ${scope.connectionId}`);
}
