// Reading the audit store. Transport-free: callers pass a db and plain input, failures are AppErrors.
import {
  auditActivity,
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
  ACTIVITY_RANGES,
  ZAuditActivity,
  ZAuditActivityInput,
  ZAuditChainVerification,
  ZAuditChainVerifyInput,
  ZAuditEventListInput,
  ZAuditEventPage,
  type TAuditActivityDto,
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

/** Which bar a decision adds to: approved statements ran, so they count as allowed. */
const ACTIVITY_COLUMN: Record<string, "allowed" | "masked" | "refused" | "held" | "error"> = {
  allowed: "allowed",
  approved: "allowed",
  masked: "masked",
  blocked: "refused",
  denied: "refused",
  pending_approval: "held",
  error: "error",
};

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

  /** Statements over the last day, week or month: per time bucket and decision, top identities and tables. */
  async activity(
    db: TDb,
    rawInput: unknown,
    scope: { connectionIds: string[] } = { connectionIds: [] },
    now = new Date(),
  ): Promise<TAuditActivityDto> {
    const input = parseInput(ZAuditActivityInput, rawInput);
    const range = ACTIVITY_RANGES[input.range];
    const bucketMs = range.bucketSeconds * 1000;
    // Buckets on round boundaries (UTC), the current one included: the window ends at the next boundary.
    const to = new Date(Math.ceil((now.getTime() + 1) / bucketMs) * bucketMs);
    const from = new Date(to.getTime() - range.seconds * 1000);
    const activity = await auditActivity(db, {
      from,
      to,
      bucketSeconds: range.bucketSeconds,
      connectionIds: scope.connectionIds,
      limit: 10,
    });
    const buckets = new Map<number, TAuditActivityDto["buckets"][number]>();
    for (let t = from.getTime(); t < to.getTime(); t += bucketMs)
      buckets.set(t, {
        start: new Date(t).toISOString(),
        allowed: 0,
        masked: 0,
        refused: 0,
        held: 0,
        error: 0,
      });
    for (const row of activity.buckets) {
      const bucket = buckets.get(row.start.getTime());
      if (!bucket) continue;
      bucket[ACTIVITY_COLUMN[row.decision] ?? "allowed"] += row.count;
    }
    return parseOutput(
      ZAuditActivity,
      {
        from: from.toISOString(),
        to: to.toISOString(),
        bucketSeconds: range.bucketSeconds,
        buckets: [...buckets.values()],
        actors: activity.actors,
        tables: activity.tables,
        totals: activity.totals,
      },
      "Audit activity",
    );
  },

  /** Recomputes the hash chain over the whole store, holding it to the anchors given (earlier heads). */
  async verifyChain(
    db: TDb,
    scope: { connectionIds: string[] } = { connectionIds: [] },
    rawInput: unknown = {},
  ): Promise<TAuditChainVerification> {
    const input = parseInput(ZAuditChainVerifyInput, rawInput);
    // The chain spans every connection: a token scoped to some cannot vouch for (or see) the rest.
    if (scope.connectionIds.length > 0)
      throw new AppError(
        "FORBIDDEN",
        "Verifying the whole audit chain needs a token not scoped to connections",
      );
    return parseOutput(
      ZAuditChainVerification,
      await verifyAuditChain(db, { anchors: input.anchors }),
      "Audit data",
    );
  },
};
