// Onboarding: test a database through its agent, scan it for sensitive data there, and create the
// connection with its guardrails, masking and grants.
import { createConnection, IdentityConflictError, NotFoundError, type TDb } from "@portcullis/db";
import { PRODUCTION_BASELINE } from "@portcullis/policy";
import { agentGateway } from "../agent-link/registry.ts";
import type { TCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
import {
  ZCreateConnectionInput,
  ZCreatedConnection,
  ZProbeConnectionInput,
  ZProbeConnectionResult,
  type TProbeConnectionResult,
} from "./schemas.ts";

export const connectionService = {
  async probe(rawInput: unknown): Promise<TProbeConnectionResult> {
    const input = parseInput(ZProbeConnectionInput, rawInput);
    const gateway = agentGateway();
    if (!gateway) throw new AppError("INTERNAL", "The agent gateway is not running in this process");
    const { agentId, scan, ...upstream } = input;
    const result = await gateway.probe(agentId, upstream, { scan });
    return parseOutput(
      ZProbeConnectionResult,
      {
        ok: result.ok,
        error: result.error,
        serverVersion: result.serverVersion,
        tablesScanned: result.tablesScanned,
        suggestions: result.classifications.map((c) => ({
          table: c.table,
          column: c.column,
          category: c.category,
          confidence: c.confidence,
          evidence: c.evidence,
          name: c.suggestedRuleName,
          columnPattern: `${c.table}.${c.column}`,
          strategy: c.suggestedStrategy,
        })),
      },
      "Probe",
    );
  },

  async create(db: TDb, caller: TCaller, secretKey: Buffer | undefined, rawInput: unknown) {
    const input = parseInput(ZCreateConnectionInput, rawInput);
    if (!secretKey) throw new AppError("INTERNAL", "No secret key to encrypt the database password with");
    try {
      const created = await createConnection(
        db,
        caller.identity,
        {
          ...input,
          guardrails: input.applyBaseline
            ? PRODUCTION_BASELINE.map((g) => ({ ...g, match: g.match as Record<string, unknown> }))
            : [],
        },
        secretKey,
      );
      return parseOutput(ZCreatedConnection, created, "Connection");
    } catch (error) {
      if (error instanceof IdentityConflictError) throw new AppError("CONFLICT", error.message);
      if (error instanceof NotFoundError) throw new AppError("NOT_FOUND", error.message);
      throw error;
    }
  },
};
