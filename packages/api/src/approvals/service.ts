// Approvals of held statements: the inbox, one request, and decisions. A decision that settles a request
// reaches the agent holding the statement at once (through the gateway in this process).
import {
  ApprovalConflictError,
  decideApproval,
  getApproval,
  listApprovals,
  NotFoundError,
  type TApprovalRow,
  type TDb,
} from "@portcullis/db";
import { agentGateway } from "../agent-link/registry.ts";
import { notifier } from "../notifications/notifier.ts";
import { connectionScopeOf, coversConnection, type TCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
import {
  ZApprovalDto,
  ZApprovalList,
  ZApprovalListInput,
  ZApprovalRef,
  ZDecideInput,
  type TApprovalDto,
} from "./schemas.ts";

export function toApprovalDto(row: TApprovalRow): TApprovalDto {
  const analysis = row.analysis as { statementClass?: string; tables?: string[]; ruleName?: string | null };
  return {
    id: row.id,
    status: row.status,
    statement: row.statement,
    statementClass: analysis.statementClass ?? "unknown",
    tables: analysis.tables ?? [],
    risk: row.risk,
    ruleName: analysis.ruleName ?? null,
    reason: row.reason,
    requester: { name: row.requester.name, displayName: row.requester.displayName, kind: row.requester.kind },
    connection: { id: row.connection.id, name: row.connection.name, environment: row.connection.environment },
    requiredApprovals: row.requiredApprovals,
    requiredGroup: row.requiredGroup,
    decisions: row.decisions.map((d) => ({
      approver: d.approver.name,
      decision: d.decision,
      reason: d.reason,
      at: d.createdAt.toISOString(),
    })),
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    decidedAt: row.decidedAt?.toISOString() ?? null,
  };
}

async function decide(db: TDb, caller: TCaller, rawInput: unknown, approve: boolean): Promise<TApprovalDto> {
  const input = parseInput(ZDecideInput, rawInput);
  if (!approve && input.reason === "")
    throw new AppError("BAD_REQUEST", "A denial needs a reason for the requester");
  let result;
  try {
    // A token scoped to connections decides only their approvals: others are not found.
    result = await decideApproval(db, caller.identity, {
      id: input.id,
      approve,
      reason: input.reason,
      connectionIds: connectionScopeOf(caller),
    });
  } catch (error) {
    if (error instanceof NotFoundError) throw new AppError("NOT_FOUND", error.message);
    if (error instanceof ApprovalConflictError) throw new AppError("CONFLICT", error.message);
    throw error;
  }
  if (result.decided) {
    const delivered = await agentGateway()?.sendApprovalDecision(result.approval.connection.agentId, {
      approvalId: result.approval.id,
      approved: result.approval.status === "approved",
      decidedBy: caller.identity.name,
      reason: input.reason || (approve ? "approved" : "denied"),
    });
    // An agent that reconnects later has refused the statement when its own deadline passed.
    if (!delivered)
      throw new AppError(
        "CONFLICT",
        "Decision recorded, but the agent holding the statement did not confirm it: if it is offline, the statement is refused when its wait runs out",
      );
  }
  const dto = parseOutput(ZApprovalDto, toApprovalDto(result.approval), "Approval");
  if (result.decided) void notifier()?.approvalDecided(dto, caller.identity.name, input.reason);
  return dto;
}

export const approvalService = {
  /** A token scoped to connections sees only their approvals. */
  async list(db: TDb, caller: TCaller, rawInput: unknown) {
    const input = parseInput(ZApprovalListInput, rawInput);
    const rows = await listApprovals(db, { ...input, connectionIds: connectionScopeOf(caller) });
    return parseOutput(ZApprovalList, { items: rows.map(toApprovalDto) }, "Approvals");
  },
  async get(db: TDb, caller: TCaller, rawInput: unknown): Promise<TApprovalDto> {
    const input = parseInput(ZApprovalRef, rawInput);
    const row = await getApproval(db, input.id);
    // Out of a scoped token's connections: the same answer as an id that does not exist.
    if (!row || !coversConnection(caller, row.connection.id))
      throw new AppError("NOT_FOUND", `No approval ${input.id}`);
    return parseOutput(ZApprovalDto, toApprovalDto(row), "Approval");
  },
  approve: (db: TDb, caller: TCaller, rawInput: unknown) => decide(db, caller, rawInput, true),
  deny: (db: TDb, caller: TCaller, rawInput: unknown) => decide(db, caller, rawInput, false),
};
