// Explains what the agent would do with a statement on a connection, using the same engine and rules.
import { getConnectionRules, type TDb } from "@portcullis/db";
import {
  analyzeSql,
  compileGuardrails,
  compileMaskingRules,
  decideUnparseable,
  evaluateGuardrails,
  initParser,
  statementMasking,
} from "@portcullis/policy";
import { coversConnection, type TCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
import { ZPolicyPreview, ZPolicyPreviewInput, type TPolicyPreview } from "./schemas.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const policyService = {
  async preview(db: TDb, caller: TCaller, rawInput: unknown): Promise<TPolicyPreview> {
    const input = parseInput(ZPolicyPreviewInput, rawInput);
    const connection = await getConnectionRules(
      db,
      UUID.test(input.connection) ? { id: input.connection } : { name: input.connection },
    );
    // Another connection's rules are as unknown to a scoped token as a connection that does not exist.
    if (!connection || !coversConnection(caller, connection.id))
      throw new AppError("NOT_FOUND", `No connection named ${input.connection}`);
    await initParser();
    const ctx = {
      environment: connection.environment,
      identityName: input.identityName,
      identityKind: input.identityKind,
      groups: input.groups,
    };
    const guardrails = compileGuardrails([
      ...connection.guardrails,
      ...input.draftGuardrails.map((g, i) => ({ ...g, id: `draft-${i}` })),
    ]);
    const masking = compileMaskingRules(
      [...connection.maskingRules, ...input.draftMaskingRules.map((m, i) => ({ ...m, id: `draft-${i}` }))],
      ctx,
    );
    const analysis = analyzeSql(input.sql);
    const summary = { id: connection.id, name: connection.name, environment: connection.environment };
    if (!analysis.ok) {
      const d = decideUnparseable(ctx, analysis.error);
      return parseOutput(
        ZPolicyPreview,
        {
          connection: summary,
          parseError: analysis.error,
          decision: { action: d.action, ruleName: d.ruleName, message: d.message },
          statements: [],
        },
        "Policy preview",
      );
    }
    const statements = analysis.statements.map((s) => {
      const d = evaluateGuardrails(s, ctx, guardrails);
      const m = statementMasking(s, masking);
      const decision =
        m.block && d.action === "allow"
          ? { action: "block" as const, ruleName: m.block.ruleName, message: m.block.message }
          : { action: d.action, ruleName: d.ruleName, message: d.message };
      return {
        text: s.text,
        command: s.command,
        class: s.class,
        tablesRead: s.tablesRead,
        tablesWritten: s.tablesWritten,
        functions: s.functions,
        unboundedWrite: s.unboundedWrite,
        destructive: s.destructive,
        runsCode: s.runsCode,
        decision,
        masking: {
          computedColumnsMasked: m.tainted,
          reasons: m.reasons,
          sensitiveColumns: m.sensitiveRefs,
          refusedBecause: m.block?.message ?? null,
        },
      };
    });
    // The query string as a whole: the first statement that is not allowed decides it (the agent runs none).
    const overall = statements.find((s) => s.decision.action !== "allow")?.decision ?? {
      action: "allow" as const,
      ruleName: null,
      message: "",
    };
    return parseOutput(
      ZPolicyPreview,
      { connection: summary, parseError: null, decision: overall, statements },
      "Policy preview",
    );
  },
};
