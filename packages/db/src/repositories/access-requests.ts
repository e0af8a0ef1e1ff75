// Just-in-time access: an identity asks for a connection for a bounded time with a reason; an approver
// decides; approval creates a grant that starts now and ends by itself. Agents learn the grant (and its end)
// from the next snapshot and end the sessions standing on it when it runs out.
import type { TDb } from "../client.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { ApprovalConflictError } from "./approvals.ts";
import { appendAuditEventsIn, controlPlaneEvent } from "./audit-events.ts";
import { NotFoundError } from "./identities.ts";
import { bumpPolicyRevision } from "./policy.ts";
import type { TAdminActor } from "./policy-rules.ts";

const requestSelect = {
  id: true,
  reason: true,
  durationSeconds: true,
  status: true,
  decisionReason: true,
  decidedAt: true,
  createdAt: true,
  requester: { select: { id: true, name: true, displayName: true, kind: true } },
  connection: { select: { id: true, name: true, environment: true } },
  decidedById: true,
  grant: { select: { id: true, startsAt: true, expiresAt: true } },
} as const satisfies Prisma.AccessRequestSelect;

export type TAccessRequestRow = Prisma.AccessRequestGetPayload<{ select: typeof requestSelect }>;

function event(
  row: TAccessRequestRow,
  actor: TAdminActor,
  decision: "pending_approval" | "approved" | "denied",
  message: string,
) {
  return controlPlaneEvent({
    type: "grant",
    actor,
    decision,
    message,
    connection: row.connection,
    applicationName: null,
    details: { accessRequestId: row.id, requester: row.requester.name, durationSeconds: row.durationSeconds },
  });
}

export async function createAccessRequest(
  db: TDb,
  requester: TAdminActor,
  input: { connectionId: string; durationSeconds: number; reason: string },
): Promise<TAccessRequestRow> {
  return db.$transaction(async (tx) => {
    if (!(await tx.connection.findUnique({ where: { id: input.connectionId }, select: { id: true } })))
      throw new NotFoundError(`connection ${input.connectionId}`);
    const row = await tx.accessRequest.create({
      data: { requesterId: requester.id, ...input },
      select: requestSelect,
    });
    await appendAuditEventsIn(tx, [
      event(
        row,
        requester,
        "pending_approval",
        `requested access for ${input.durationSeconds} s: ${input.reason}`,
      ),
    ]);
    return row;
  });
}

export async function listAccessRequests(
  db: TDb,
  /** `connectionIds`: only requests for these connections (a scoped caller's); absent: all. */
  filter: { status?: "pending" | "approved" | "denied"; limit: number; connectionIds?: string[] },
): Promise<TAccessRequestRow[]> {
  return db.accessRequest.findMany({
    where: {
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.connectionIds ? { connectionId: { in: filter.connectionIds } } : {}),
    },
    orderBy: { createdAt: "desc" },
    take: filter.limit,
    select: requestSelect,
  });
}

/**
 * Approving creates the grant, from now for the requested duration; the requester cannot decide. With
 * `connectionIds` (a scoped caller), a request for another connection is not found, like an unknown id.
 */
export async function decideAccessRequest(
  db: TDb,
  actor: TAdminActor,
  input: { id: string; approve: boolean; reason: string; connectionIds?: string[] },
  now = new Date(),
): Promise<TAccessRequestRow> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT 1 FROM access_requests WHERE id = ${input.id}::uuid FOR UPDATE`;
    const current = await tx.accessRequest.findUnique({ where: { id: input.id }, select: requestSelect });
    if (!current || (input.connectionIds && !input.connectionIds.includes(current.connection.id)))
      throw new NotFoundError(`access request ${input.id}`);
    if (current.status !== "pending")
      throw new ApprovalConflictError(`This request is already ${current.status}`);
    if (current.requester.id === actor.id)
      throw new ApprovalConflictError("You cannot decide on your own access request: another approver must");
    const row = await tx.accessRequest.update({
      where: { id: input.id },
      data: {
        status: input.approve ? "approved" : "denied",
        decidedById: actor.id,
        decisionReason: input.reason,
        decidedAt: now,
        ...(input.approve
          ? {
              grant: {
                create: {
                  identityId: current.requester.id,
                  connectionId: current.connection.id,
                  reason: `just-in-time: ${current.reason}`,
                  grantedById: actor.id,
                  startsAt: now,
                  expiresAt: new Date(now.getTime() + current.durationSeconds * 1000),
                },
              },
            }
          : {}),
      },
      select: requestSelect,
    });
    if (input.approve) await bumpPolicyRevision(tx);
    await appendAuditEventsIn(tx, [
      event(
        row,
        actor,
        input.approve ? "approved" : "denied",
        input.approve
          ? `granted ${current.requester.name} access to ${current.connection.name} until ${row.grant?.expiresAt?.toISOString()}${input.reason ? `: ${input.reason}` : ""}`
          : `denied ${current.requester.name} access to ${current.connection.name}: ${input.reason}`,
      ),
    ]);
    return row;
  });
}
