// Managing audit streams (admins only). Transport-free: callers pass a db and plain input, failures are AppErrors.
import {
  appendAuditEvents,
  AUDIT_STREAM_PENDING_CAP,
  controlPlaneEvent,
  createAuditStream,
  deleteAuditStream,
  listAuditStreams,
  setAuditStreamEnabled,
  type TAuditStreamSummary,
  type TDb,
} from "@portcullis/db";
import type { TCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
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
    url: row.url,
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

/** Where a stream sends, for the timeline: a collector URL may carry a key in its query or user part. */
export function redactedUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

async function recordChange(db: TDb, caller: TCaller, message: string, details?: unknown) {
  await appendAuditEvents(db, [
    controlPlaneEvent({
      type: "admin_change",
      actor: caller.identity,
      decision: "allowed",
      message,
      details,
    }),
  ]);
}

async function streamDto(db: TDb, id: string): Promise<TAuditStreamDto> {
  const stream = (await listAuditStreams(db, id))[0];
  if (!stream) throw new AppError("NOT_FOUND", "No such audit stream");
  return parseOutput(ZAuditStreamDto, toAuditStreamDto(stream), "Audit stream");
}

export const auditStreamService = {
  async list(db: TDb): Promise<TAuditStreamDto[]> {
    return parseOutput(ZAuditStreamList, (await listAuditStreams(db)).map(toAuditStreamDto), "Audit streams");
  },

  async create(db: TDb, caller: TCaller, secretKey: Buffer | undefined, rawInput: unknown) {
    const input = parseInput(ZCreateAuditStreamInput, rawInput);
    if (!secretKey) throw new AppError("INTERNAL", "No secret key to encrypt the stream's secrets with");
    const environments = [...new Set(input.environments)];
    const created = await createAuditStream(db, secretKey, {
      name: input.name,
      url: input.url,
      format: input.format,
      environments,
      signingSecret: input.signingSecret ?? null,
      authorization: input.authorization ?? null,
      startFrom: input.startFrom,
    });
    if (!created) throw new AppError("CONFLICT", `An audit stream named "${input.name}" already exists`);
    await recordChange(db, caller, `created audit stream "${created.name}" to ${redactedUrl(input.url)}`, {
      format: input.format,
      environments,
      startFrom: input.startFrom,
      signed: Boolean(input.signingSecret),
    });
    return streamDto(db, created.id);
  },

  /** Pauses or resumes a stream; resuming also retries a failing one at once. */
  async setEnabled(db: TDb, caller: TCaller, rawInput: unknown): Promise<TAuditStreamDto> {
    const input = parseInput(ZSetAuditStreamEnabledInput, rawInput);
    const name = await setAuditStreamEnabled(db, input.id, input.enabled);
    if (name === null) throw new AppError("NOT_FOUND", "No such audit stream");
    await recordChange(db, caller, `${input.enabled ? "enabled" : "paused"} audit stream "${name}"`);
    return streamDto(db, input.id);
  },

  async remove(db: TDb, caller: TCaller, rawInput: unknown): Promise<void> {
    const input = parseInput(ZAuditStreamIdInput, rawInput);
    const name = await deleteAuditStream(db, input.id);
    if (name === null) throw new AppError("NOT_FOUND", "No such audit stream");
    await recordChange(db, caller, `deleted audit stream "${name}"`);
  },
};
