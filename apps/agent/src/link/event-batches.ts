// Packing spooled audit events into `events` frames that the control plane will accept: at most
// maxEvents per frame and about maxBytes per frame, so a burst of large statements never trips the
// control plane's frame-size limit (which would close the link and resend the same batch forever).
import { PROTOCOL_VERSION, type TAuditEvent } from "@portcullis/agent-protocol";

const TRIMMED_STATEMENT_CHARS = 32_000;
const TRIMMED_TEXT_CHARS = 2000;
const TRIMMED_LIST_ITEMS = 200;

export interface TEventBatch {
  ids: string[];
  /** UTF-8 JSON: send it as a text frame. */
  frame: Buffer;
  /** The frame hit its event or byte cap (more candidates were left out, or it holds maxEvents). */
  full: boolean;
}

// Same bytes as encodeMessage({v, type: "events", events}), around events serialized once, by the agent.
const FRAME_HEAD = Buffer.from(`{"v":${PROTOCOL_VERSION},"type":"events","events":[`);
const FRAME_TAIL = Buffer.from("]}");
const COMMA = Buffer.from(",");

/** Builds one frame from the oldest candidates (their spooled JSON); null when there is nothing to send. */
export function buildEventBatch(
  candidates: { id: string; data: Buffer }[],
  maxEvents: number,
  maxBytes: number,
): TEventBatch | null {
  const ids: string[] = [];
  const parts: Buffer[] = [FRAME_HEAD];
  let bytes = 0;
  let full = false;
  for (const candidate of candidates) {
    if (ids.length >= maxEvents) break;
    let data = candidate.data;
    let size = data.length + 1;
    // Only an event too large for any frame is parsed again, to be trimmed.
    if (size > maxBytes) {
      data = Buffer.from(serializeWithinLimit(JSON.parse(data.toString()) as TAuditEvent, maxBytes));
      size = data.length + 1;
    }
    if (ids.length > 0 && bytes + size > maxBytes) {
      full = true;
      break;
    }
    if (ids.length > 0) parts.push(COMMA);
    ids.push(candidate.id);
    parts.push(data);
    bytes += size;
  }
  if (ids.length === 0) return null;
  parts.push(FRAME_TAIL);
  return { ids, frame: Buffer.concat(parts), full: full || ids.length >= maxEvents };
}

/**
 * An event too large for any frame is trimmed (same id, so it is still acknowledged once) and says so in
 * its message: a shortened record in the audit store beats a spool blocked behind an unsendable event.
 */
export function serializeWithinLimit(event: TAuditEvent, maxBytes: number): string {
  const json = JSON.stringify(event);
  const size = Buffer.byteLength(json);
  if (size <= maxBytes) return json;
  const note = `[audit event trimmed by the agent: ${size} bytes exceeded the ${maxBytes} byte frame budget]`;
  const trimmed: TAuditEvent = {
    ...event,
    statement: event.statement === null ? null : event.statement.slice(0, TRIMMED_STATEMENT_CHARS),
    message: `${note} ${event.message ?? ""}`.slice(0, TRIMMED_TEXT_CHARS).trimEnd(),
    error: event.error === null ? null : event.error.slice(0, TRIMMED_TEXT_CHARS),
    tables: event.tables.slice(0, TRIMMED_LIST_ITEMS),
    columns: event.columns.slice(0, TRIMMED_LIST_ITEMS),
    maskedColumns: event.maskedColumns.slice(0, TRIMMED_LIST_ITEMS),
  };
  return JSON.stringify(trimmed);
}
