// Managing audit streams (admins only). Transport-free: callers pass a db and plain input, failures are AppErrors.
import {
  AUDIT_STREAM_PENDING_CAP,
  createAuditStream,
  deleteAuditStream,
  listAuditStreams,
  redactedStreamUrl,
  setAuditStreamEnabled,
  type TAuditStreamSummary,
  type TDb,
} from "@portcullis/db";
import { requireUnscoped as requireUnscopedCaller, type TCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
import { streamHostAllowed } from "./hosts.ts";
import {
  ZAuditStreamDto,
  ZAuditStreamIdInput,
  ZAuditStreamList,
  ZCreateAuditStreamInput,
  ZSetAuditStreamEnabledInput,
  type TAuditStreamDto,
} from "./schemas.ts";

export function toAuditStreamDto(row: TAuditStreamSummary): TAuditStreamDto {
  return {
    id: row.id,
    name: row.name,
    // The query may hold the collector's key: like the stream's secrets, it is not read back.
    url: redactedStreamUrl(row.url),
    urlQueryHidden: new URL(row.url).search !== "",
    format: row.format,
    environments: row.environments,
    enabled: row.enabled,
    signed: row.signed,
    hasAuthorization: row.hasAuthorization,
    status: !row.enabled ? "disabled" : row.failures > 0 ? "failing" : "delivering",
    deliveredCount: Number(row.deliveredCount),
    pending: Math.min(row.pending, AUDIT_STREAM_PENDING_CAP),
    pendingAtLeast: row.pending > AUDIT_STREAM_PENDING_CAP,
    lastDeliveredAt: row.lastDeliveredAt?.toISOString() ?? null,
    lastError: row.lastError,
    lastErrorAt: row.lastErrorAt?.toISOString() ?? null,
    failures: row.failures,
    nextAttemptAt: row.nextAttemptAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
  };
}

/** A stream carries every connection's events: a token scoped to some may neither see nor change streams. */
function requireUnscoped(caller: TCaller): void {
  requireUnscopedCaller(caller, "Audit streams carry every connection's events");
}

async function streamDto(db: TDb, id: string): Promise<TAuditStreamDto> {
  const stream = (await listAuditStreams(db, id))[0];
  if (!stream) throw new AppError("NOT_FOUND", "No such audit stream");
  return parseOutput(ZAuditStreamDto, toAuditStreamDto(stream), "Audit stream");
}

export const auditStreamService = {
  async list(db: TDb, caller: TCaller): Promise<TAuditStreamDto[]> {
    requireUnscoped(caller);
    return parseOutput(ZAuditStreamList, (await listAuditStreams(db)).map(toAuditStreamDto), "Audit streams");
  },

  async create(
    db: TDb,
    caller: TCaller,
    secretKey: Buffer | undefined,
    rawInput: unknown,
    options: { allowedHosts?: string[] } = {},
  ) {
    requireUnscoped(caller);
    const input = parseInput(ZCreateAuditStreamInput, rawInput);
    if (!streamHostAllowed(input.url, options.allowedHosts))
      throw new AppError(
        "BAD_REQUEST",
        `${new URL(input.url).hostname} is not among the hosts audit streams may send to (PORTCULLIS_AUDIT_STREAM_HOSTS)`,
      );
    if (!secretKey) throw new AppError("INTERNAL", "No secret key to encrypt the stream's secrets with");
    const created = await createAuditStream(db, secretKey, caller.identity, {
      name: input.name,
      url: input.url,
      format: input.format,
      environments: [...new Set(input.environments)],
      signingSecret: input.signingSecret ?? null,
      authorization: input.authorization ?? null,
      startFrom: input.startFrom,
    });
    if (!created) throw new AppError("CONFLICT", `An audit stream named "${input.name}" already exists`);
    return streamDto(db, created.id);
  },

  /** Pauses or resumes a stream; resuming also retries a failing one at once. */
  async setEnabled(db: TDb, caller: TCaller, rawInput: unknown): Promise<TAuditStreamDto> {
    requireUnscoped(caller);
    const input = parseInput(ZSetAuditStreamEnabledInput, rawInput);
    if (!(await setAuditStreamEnabled(db, caller.identity, input.id, input.enabled)))
      throw new AppError("NOT_FOUND", "No such audit stream");
    return streamDto(db, input.id);
  },

  async remove(db: TDb, caller: TCaller, rawInput: unknown): Promise<void> {
    requireUnscoped(caller);
    const input = parseInput(ZAuditStreamIdInput, rawInput);
    if (!(await deleteAuditStream(db, caller.identity, input.id)))
      throw new AppError("NOT_FOUND", "No such audit stream");
  },
};
