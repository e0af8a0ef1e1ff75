// Approvals of held statements. An agent holds the statement in its session and asks; approvers decide
// here. The requester never approves their own statement; a denial decides at once, approvals once enough
// approvers agreed. Requests and decisions are audit events in the same chain.
import type { TDb } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { appendAuditEventsIn, controlPlaneEvent } from "./audit-events.ts";
import { NotFoundError } from "./identities.ts";
import type { TAdminActor } from "./policy-rules.ts";

export class ApprovalConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ApprovalConflictError";
  }
}

export type TApprovalStatus = "pending" | "approved" | "denied" | "expired" | "cancelled";

const approvalSelect = {
  id: true,
  statement: true,
  analysis: true,
  risk: true,
  ruleId: true,
  reason: true,
  requiredApprovals: true,
  requiredGroup: true,
  status: true,
  expiresAt: true,
  decidedAt: true,
  createdAt: true,
  sessionId: true,
  requester: { select: { id: true, name: true, displayName: true, kind: true } },
  connection: { select: { id: true, name: true, environment: true, agentId: true } },
  decisions: {
    orderBy: { createdAt: "asc" },
    select: { decision: true, reason: true, createdAt: true, approver: { select: { name: true } } },
  },
} as const satisfies Prisma.ApprovalSelect;

export type TApprovalRow = Prisma.ApprovalGetPayload<{ select: typeof approvalSelect }>;

/** A pending request past its deadline is expired: the agent has refused the statement by then. */
function effective<T extends { status: TApprovalStatus; expiresAt: Date }>(row: T, now: Date): T {
  return row.status === "pending" && row.expiresAt <= now ? { ...row, status: "expired" } : row;
}

export async function createApproval(
  db: TDb,
  input: {
    id: string;
    requesterId: string;
    connectionId: string;
    sessionId: string;
    statement: string;
    analysis: { statementClass: string; tables: string[]; ruleName: string | null; message: string };
    risk: string;
    ruleId: string | null;
    expiresAt: Date;
    /** From the guardrail that held the statement (approvalRequirement); one approver from anyone if absent. */
    requiredApprovals?: number;
    requiredGroup?: string | null;
  },
): Promise<TApprovalRow> {
  return db.$transaction(async (tx) => {
    const row = await tx.approval.create({
      data: {
        id: input.id,
        requesterId: input.requesterId,
        connectionId: input.connectionId,
        sessionId: input.sessionId,
        statement: input.statement,
        analysis: input.analysis,
        risk: input.risk,
        ruleId: input.ruleId,
        reason: input.analysis.message,
        expiresAt: input.expiresAt,
        requiredApprovals: input.requiredApprovals ?? 1,
        requiredGroup: input.requiredGroup ?? null,
      },
      select: approvalSelect,
    });
    await appendAuditEventsIn(tx, [
      approvalEvent(row, "pending_approval", null, `approval requested: ${input.analysis.message}`),
    ]);
    return row;
  });
}

export async function listApprovals(
  db: TDb,
  /** `connectionIds`: only approvals on these connections (a scoped caller's); absent: all. */
  filter: { status?: TApprovalStatus; limit: number; connectionIds?: string[] },
  now = new Date(),
): Promise<TApprovalRow[]> {
  const byStatus: Prisma.ApprovalWhereInput =
    filter.status === "pending"
      ? { status: "pending", expiresAt: { gt: now } }
      : filter.status === "expired"
        ? { OR: [{ status: "expired" }, { status: "pending", expiresAt: { lte: now } }] }
        : filter.status
          ? { status: filter.status }
          : {};
  const where: Prisma.ApprovalWhereInput = filter.connectionIds
    ? { AND: [byStatus, { connectionId: { in: filter.connectionIds } }] }
    : byStatus;
  const rows = await db.approval.findMany({
    where,
    orderBy: { createdAt: "desc" },
    take: filter.limit,
    select: approvalSelect,
  });
  return rows.map((r) => effective(r, now));
}

export async function getApproval(db: TDb, id: string, now = new Date()): Promise<TApprovalRow | null> {
  const row = await db.approval.findUnique({ where: { id }, select: approvalSelect });
  return row ? effective(row, now) : null;
}

/**
 * Records one approver's decision. Returns the approval and whether it is now decided (the agent must be
 * told). Refuses the requester's own decision, a second decision by the same approver, and decisions on
 * requests that are no longer pending. With `connectionIds` (a scoped caller), an approval on another
 * connection is not found, exactly like one that does not exist.
 */
export async function decideApproval(
  db: TDb,
  actor: TAdminActor & { groups: string[] },
  input: { id: string; approve: boolean; reason: string; connectionIds?: string[] },
  now = new Date(),
): Promise<{ approval: TApprovalRow; decided: boolean }> {
  return db.$transaction(async (tx) => {
    // Serializes concurrent decisions on one approval.
    await tx.$executeRaw`SELECT 1 FROM approvals WHERE id = ${input.id}::uuid FOR UPDATE`;
    const current = await tx.approval.findUnique({ where: { id: input.id }, select: approvalSelect });
    if (!current || (input.connectionIds && !input.connectionIds.includes(current.connection.id)))
      throw new NotFoundError(`approval ${input.id}`);
    const state = effective(current, now);
    if (state.status !== "pending")
      throw new ApprovalConflictError(`This request is already ${state.status}`);
    if (current.requester.id === actor.id)
      throw new ApprovalConflictError("You cannot decide on your own statement: another approver must");
    if (current.requiredGroup && !actor.groups.includes(current.requiredGroup))
      throw new ApprovalConflictError(`Only members of ${current.requiredGroup} can decide on this request`);
    if (current.decisions.some((d) => d.approver.name === actor.name))
      throw new ApprovalConflictError("You have already decided on this request");
    await tx.approvalDecision.create({
      data: {
        approvalId: input.id,
        approverId: actor.id,
        decision: input.approve ? "approved" : "denied",
        reason: input.reason,
      },
    });
    const approvals =
      current.decisions.filter((d) => d.decision === "approved").length + (input.approve ? 1 : 0);
    const status: TApprovalStatus = !input.approve
      ? "denied"
      : approvals >= current.requiredApprovals
        ? "approved"
        : "pending";
    const approval = await tx.approval.update({
      where: { id: input.id },
      data: status === "pending" ? {} : { status, decidedAt: now },
      select: approvalSelect,
    });
    await appendAuditEventsIn(tx, [
      approvalEvent(
        approval,
        input.approve ? "approved" : "denied",
        actor,
        `${input.approve ? "approved" : "denied"} by ${actor.name}${input.reason ? `: ${input.reason}` : ""}${
          status === "pending" ? ` (${approvals} of ${current.requiredApprovals} approvals)` : ""
        }`,
      ),
    ]);
    return { approval, decided: status !== "pending" };
  });
}

/**
 * The agent holding the statement says its session ended before a decision: a pending request is cancelled
 * (approvers no longer see it as waiting, and cannot decide it). Only the agent serving the request's
 * connection may withdraw it; anything else, or a request already decided or expired, is left as it is.
 * Returns the withdrawn request, or null when nothing was withdrawn.
 */
export async function withdrawApproval(
  db: TDb,
  input: { id: string; agentId: string; reason: string },
  now = new Date(),
): Promise<TApprovalRow | null> {
  return db.$transaction(async (tx) => {
    // The same lock as decideApproval: a decision and a withdrawal apply one after the other.
    await tx.$executeRaw`SELECT 1 FROM approvals WHERE id = ${input.id}::uuid FOR UPDATE`;
    const current = await tx.approval.findUnique({ where: { id: input.id }, select: approvalSelect });
    if (!current || current.connection.agentId !== input.agentId) return null;
    if (effective(current, now).status !== "pending") return null;
    const approval = await tx.approval.update({
      where: { id: input.id },
      data: { status: "cancelled", decidedAt: now },
      select: approvalSelect,
    });
    await appendAuditEventsIn(tx, [
      approvalEvent(
        approval,
        "denied",
        null,
        `withdrawn before a decision: the session ended (${input.reason}); the statement did not run`,
      ),
    ]);
    return approval;
  });
}

function approvalEvent(
  row: TApprovalRow,
  decision: "pending_approval" | "approved" | "denied",
  actor: TAdminActor | null,
  message: string,
) {
  const analysis = row.analysis as { statementClass?: string; tables?: string[]; ruleName?: string | null };
  return controlPlaneEvent({
    type: "approval",
    actor: actor ?? row.requester,
    decision,
    message,
    connection: row.connection,
    agentId: row.connection.agentId,
    sessionId: row.sessionId,
    applicationName: actor ? "dashboard" : null,
    statement: row.statement,
    statementClass: analysis.statementClass ?? null,
    ruleId: row.ruleId,
    ruleName: analysis.ruleName ?? null,
    tables: analysis.tables ?? [],
    details: { approvalId: row.id, requester: row.requester.name },
  });
}
