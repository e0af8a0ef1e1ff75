// Just-in-time access requests: anyone may ask for a connection for a while, with a reason; approvers
// decide; an approval is a grant that ends by itself.
import {
  ApprovalConflictError,
  createAccessRequest,
  decideAccessRequest,
  listAccessRequests,
  NotFoundError,
  type TAccessRequestRow,
  type TDb,
} from "@portcullis/db";
import { connectionScopeOf, coversConnection, type TCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
import {
  ZAccessRequestDto,
  ZAccessRequestList,
  ZAccessRequestListInput,
  ZCreateAccessRequestInput,
  ZDecideInput,
  type TAccessRequestDto,
} from "./schemas.ts";

function toDto(row: TAccessRequestRow): TAccessRequestDto {
  return {
    id: row.id,
    status: row.status,
    reason: row.reason,
    durationSeconds: row.durationSeconds,
    requester: row.requester,
    connection: row.connection,
    decisionReason: row.decisionReason,
    decidedAt: row.decidedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    grant: row.grant
      ? {
          id: row.grant.id,
          startsAt: row.grant.startsAt.toISOString(),
          expiresAt: row.grant.expiresAt?.toISOString() ?? null,
        }
      : null,
  };
}

async function mapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof NotFoundError) throw new AppError("NOT_FOUND", error.message);
    if (error instanceof ApprovalConflictError) throw new AppError("CONFLICT", error.message);
    throw error;
  }
}

export const accessRequestService = {
  async create(db: TDb, caller: TCaller, rawInput: unknown): Promise<TAccessRequestDto> {
    const input = parseInput(ZCreateAccessRequestInput, rawInput);
    if (!coversConnection(caller, input.connectionId))
      throw new AppError("FORBIDDEN", "This API token is scoped to other connections");
    const row = await mapErrors(() => createAccessRequest(db, caller.identity, input));
    return parseOutput(ZAccessRequestDto, toDto(row), "Access request");
  },
  /** A token scoped to connections sees only their requests. */
  async list(db: TDb, caller: TCaller, rawInput: unknown) {
    const input = parseInput(ZAccessRequestListInput, rawInput);
    const rows = await listAccessRequests(db, { ...input, connectionIds: connectionScopeOf(caller) });
    return parseOutput(ZAccessRequestList, { items: rows.map(toDto) }, "Access requests");
  },
  /** A token scoped to connections decides only their requests: others are not found. */
  async decide(db: TDb, caller: TCaller, rawInput: unknown, approve: boolean): Promise<TAccessRequestDto> {
    const input = parseInput(ZDecideInput, rawInput);
    if (!approve && input.reason === "")
      throw new AppError("BAD_REQUEST", "A denial needs a reason for the requester");
    const row = await mapErrors(() =>
      decideAccessRequest(db, caller.identity, {
        id: input.id,
        approve,
        reason: input.reason,
        connectionIds: connectionScopeOf(caller),
      }),
    );
    return parseOutput(ZAccessRequestDto, toDto(row), "Access request");
  },
};
