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
  type TAdminActor,
  type TDb,
} from "@portcullis/db";
import { ZDetectorId, ZGuardrailMatch } from "@portcullis/policy";
import { z } from "zod";
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

export const policyRulesService = {
  async listConnections(db: TDb) {
    return parseOutput(ZConnectionList, await listConnectionSummaries(db), "Connection list");
  },

  async connectionRules(db: TDb, rawInput: unknown): Promise<TConnectionRules> {
    const input = parseInput(ZConnectionRulesInput, rawInput);
    const rules = await listConnectionRules(db, input.connectionId);
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

  async saveGuardrail(db: TDb, actor: TAdminActor, rawInput: unknown): Promise<TGuardrailDto> {
    const input = parseInput(ZSaveGuardrailInput, rawInput);
    const match = ZGuardrailMatch.safeParse(input.fields.match);
    if (!match.success)
      throw new AppError("BAD_REQUEST", `Invalid match criteria: ${z.prettifyError(match.error)}`);
    if (Object.keys(match.data).length === 0)
      throw new AppError("BAD_REQUEST", "A guardrail needs at least one match criterion");
    await requireScope(db, input.scope);
    const row = await notFoundAsAppError(() =>
      saveGuardrail(db, actor, {
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
      }),
    );
    return parseOutput(ZGuardrailDto, toGuardrailDto(row), "Guardrail");
  },

  async deleteGuardrail(db: TDb, actor: TAdminActor, rawInput: unknown): Promise<void> {
    const input = parseInput(ZDeleteRuleInput, rawInput);
    await notFoundAsAppError(() => deleteGuardrail(db, actor, input.id));
  },

  async saveMaskingRule(db: TDb, actor: TAdminActor, rawInput: unknown): Promise<TMaskingRuleDto> {
    const input = parseInput(ZSaveMaskingRuleInput, rawInput);
    if (input.fields.detector !== null && !ZDetectorId.safeParse(input.fields.detector).success)
      throw new AppError(
        "BAD_REQUEST",
        `Unknown detector "${input.fields.detector}"; known: ${ZDetectorId.options.join(", ")}`,
      );
    await requireScope(db, input.scope);
    const row = await notFoundAsAppError(() =>
      saveMaskingRule(db, actor, { id: input.id, scope: input.scope, fields: input.fields }),
    );
    return parseOutput(ZMaskingRuleDto, toMaskingRuleDto(row), "Masking rule");
  },

  async deleteMaskingRule(db: TDb, actor: TAdminActor, rawInput: unknown): Promise<void> {
    const input = parseInput(ZDeleteRuleInput, rawInput);
    await notFoundAsAppError(() => deleteMaskingRule(db, actor, input.id));
  },
};

async function requireScope(db: TDb, scope: { connectionId: string } | { environment: string | null }) {
  if (!("connectionId" in scope)) return;
  if (!(await connectionExists(db, scope.connectionId)))
    throw new AppError("NOT_FOUND", `No connection ${scope.connectionId}`);
}
