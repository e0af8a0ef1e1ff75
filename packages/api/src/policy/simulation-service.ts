// Who can reach a connection, with which masking, and what the guardrails do with risky statements from
// each of them, answered from the snapshot agents enforce (grants × valid tokens) with the same engine.
import { buildPolicySnapshot, findConnectionAgent, type TDb } from "@portcullis/db";
import {
  analyzeSql,
  compileGuardrails,
  compileMaskingRules,
  decideUnparseable,
  evaluateGuardrails,
  initParser,
} from "@portcullis/policy";
import { coversConnection, type TCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
import { ZAccessSimulation, ZAccessSimulationInput, type TAccessSimulation } from "./schemas.ts";

const DEFAULT_STATEMENTS = [
  "drop table customers",
  "delete from customers",
  "update customers set email = null where id = 1",
  "grant all on all tables in schema public to public",
];

export const accessSimulationService = {
  async simulate(
    db: TDb,
    caller: TCaller,
    secretKey: Buffer | undefined,
    rawInput: unknown,
  ): Promise<TAccessSimulation> {
    const input = parseInput(ZAccessSimulationInput, rawInput);
    // Who reaches another connection is as unknown to a scoped token as a connection that does not exist.
    const agent = coversConnection(caller, input.connectionId)
      ? await findConnectionAgent(db, input.connectionId)
      : null;
    if (!agent) throw new AppError("NOT_FOUND", `No connection ${input.connectionId}`);
    if (!secretKey) throw new AppError("INTERNAL", "No secret key to build the policy snapshot with");
    const snapshot = await buildPolicySnapshot(db, agent.agentId, { secretKey });
    const connection = snapshot.connections.find((c) => c.id === input.connectionId);
    if (!connection) throw new AppError("NOT_FOUND", `No connection ${input.connectionId}`);
    await initParser();
    const statements = input.statements ?? DEFAULT_STATEMENTS;
    const analyses = statements.map((sql) => analyzeSql(sql));
    const guardrails = compileGuardrails(connection.guardrails);

    const byIdentity = new Map<string, (typeof connection.credentials)[number][]>();
    for (const credential of connection.credentials)
      byIdentity.set(credential.identityId, [...(byIdentity.get(credential.identityId) ?? []), credential]);

    const identities = [...byIdentity.values()].map((credentials) => {
      const first = credentials[0]!;
      const ctx = {
        environment: connection.environment,
        identityName: first.identityName,
        identityKind: first.identityKind,
        groups: first.groups,
      };
      const masking = compileMaskingRules(connection.maskingRules, ctx);
      const applied = new Set([
        ...masking.columnRules.map((r) => r.ruleName),
        ...masking.detectorRules.map((r) => r.ruleName),
      ]);
      const decisions = analyses.map((analysis) => {
        if (!analysis.ok) {
          const d = decideUnparseable(ctx, analysis.error);
          return { action: d.action, ruleName: d.ruleName, message: d.message };
        }
        // A string of statements runs only if each one is allowed: the first refusal decides.
        for (const statement of analysis.statements) {
          const d = evaluateGuardrails(statement, ctx, guardrails);
          if (d.action !== "allow") return { action: d.action, ruleName: d.ruleName, message: d.message };
        }
        return { action: "allow" as const, ruleName: null, message: "" };
      });
      // With no expiry on any token, access does not end by itself.
      const expiries = credentials.map((c) => c.expiresAt);
      const accessUntil = expiries.includes(null) ? null : ((expiries as string[]).sort().at(-1) ?? null);
      return {
        name: first.identityName,
        kind: first.identityKind,
        groups: first.groups,
        tokens: credentials.length,
        accessUntil,
        maskedBy: [...applied],
        exemptFrom: connection.maskingRules.filter((r) => !applied.has(r.name)).map((r) => r.name),
        decisions,
      };
    });
    identities.sort((a, b) => a.name.localeCompare(b.name));
    return parseOutput(
      ZAccessSimulation,
      {
        connection: { id: connection.id, name: connection.name, environment: connection.environment },
        statements,
        identities,
      },
      "Access simulation",
    );
  },
};
