// Reading the audit store. Transport-free: callers pass a db and plain input, failures are AppErrors.
import {
  decodeAuditCursor,
  listAuditEvents,
  verifyAuditChain,
  type TAuditEventFilter as TDbAuditEventFilter,
  type TAuditEventRow,
  type TDb,
} from "@portcullis/db";
import { AppError } from "../errors.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
import {
  ZAuditChainVerification,
  ZAuditEventListInput,
  ZAuditEventPage,
  type TAuditChainVerification,
  type TAuditEventDto,
  type TAuditEventFilter,
  type TAuditEventListInput,
  type TAuditEventPage,
} from "./schemas.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toDbFilter(filter: TAuditEventFilter): TDbAuditEventFilter {
  const { connection } = filter;
  return {
    text: filter.text,
    actorName: filter.actor,
    actorKind: filter.actorKind,
    // One parameter for both: ids are UUIDs, names are not required to be anything else.
    ...(connection &&
      (UUID.test(connection) ? { connectionId: connection } : { connectionName: connection })),
    environment: filter.environment,
    decision: filter.decision,
    table: filter.table,
    column: filter.column,
    sessionId: filter.session,
    from: filter.from ? new Date(filter.from) : undefined,
    to: filter.to ? new Date(filter.to) : undefined,
  };
}

export function toAuditEventDto(row: TAuditEventRow): TAuditEventDto {
  return {
    ...row,
    seq: row.seq.toString(),
    occurredAt: row.occurredAt.toISOString(),
    decision: row.decision as TAuditEventDto["decision"],
    // Prisma's JsonValue allows undefined inside objects; what the store returns is plain JSON.
    details: (row.details ?? null) as TAuditEventDto["details"],
  };
}

export const auditService = {
  /** Newest first; pass the returned nextCursor back to continue. */
  async list(
    db: TDb,
    rawInput: TAuditEventListInput,
    scope: { connectionIds: string[] } = { connectionIds: [] },
  ): Promise<TAuditEventPage> {
    const input = parseInput(ZAuditEventListInput, rawInput);
    const cursor = input.cursor ? decodeAuditCursor(input.cursor) : undefined;
    if (cursor === null) throw new AppError("BAD_REQUEST", "Invalid cursor");
    // A token scoped to connections reads only their events.
    const filter = { ...toDbFilter(input.filter), connectionIds: scope.connectionIds };
    const page = await listAuditEvents(db, filter, { limit: input.limit, cursor });
    return parseOutput(
      ZAuditEventPage,
      {
        items: page.items.map(toAuditEventDto),
        nextCursor: page.nextCursor,
      },
      "Audit data",
    );
  },

  /** Recomputes the hash chain over the whole store. */
  async verifyChain(db: TDb): Promise<TAuditChainVerification> {
    return parseOutput(ZAuditChainVerification, await verifyAuditChain(db), "Audit data");
  },
};
