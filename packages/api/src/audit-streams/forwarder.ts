// Sends the audit timeline on to each enabled audit stream: batches of events after the stream's cursor, in
// seq order, POSTed as newline-delimited JSON. At least once: the cursor moves only after a 2xx, so a receiver
// that failed or timed out gets the same events again (each carries its id to deduplicate on). Replicas share
// the work through the store's lease; a failing receiver is retried with a growing delay, up to 5 minutes.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import {
  decryptSecret,
  leaseDueAuditStreams,
  readAuditEventsForStream,
  recordAuditStreamFailure,
  recordAuditStreamProgress,
  releaseAuditStreamLeases,
  type TDb,
  type TLeasedAuditStream,
} from "@portcullis/db";
import type { Logger } from "pino";
import { toAuditEventDto } from "../audit/service.ts";
import { webhookSignature } from "../notifications/notifier.ts";
import { streamLine } from "./formats.ts";
import { streamHostAllowed } from "./hosts.ts";

export interface TAuditStreamForwarderOptions {
  db: TDb;
  secretKey: Buffer;
  logger?: Logger;
  /** How often due streams are looked for when none has more waiting. */
  pollMs?: number;
  batchSize?: number;
  /** A batch stops growing past this many bytes (one event always goes, whatever its size). */
  maxBatchBytes?: number;
  timeoutMs?: number;
  leaseMs?: number;
  /** Names this replica in the lease. */
  holder?: string;
  maxRetryDelayMs?: number;
  /** Hosts streams may send to (PORTCULLIS_AUDIT_STREAM_HOSTS); undefined: any. Checked before every POST. */
  allowedHosts?: string[];
}

export interface TAuditStreamForwarder {
  start(): void;
  /** One pass over the due streams; resolves to how many events were delivered. */
  runOnce(): Promise<{ delivered: number; more: boolean }>;
  close(): Promise<void>;
}

/** 1 s, 2 s, 4 s ... after consecutive failures, capped. */
export function retryDelayMs(failures: number, maxMs: number): number {
  return Math.min(maxMs, 1000 * 2 ** Math.min(failures, 20));
}

/** The start of a collector's answer, for the error shown to admins; the rest is not read. */
async function answerPrefix(response: Response, limit = 200): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit * 4) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body cut short still leaves its status to go by.
  } finally {
    void reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString("utf8").slice(0, limit).trim();
}

export function createAuditStreamForwarder(options: TAuditStreamForwarderOptions): TAuditStreamForwarder {
  const { db, secretKey, logger } = options;
  const pollMs = options.pollMs ?? 2000;
  const batchSize = options.batchSize ?? 500;
  const maxBatchBytes = options.maxBatchBytes ?? 4 * 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const leaseMs = options.leaseMs ?? Math.max(60_000, timeoutMs * 3);
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 5 * 60_000;
  const holder = options.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> = Promise.resolve();
  let started = false;
  let closed = false;
  // Aborts deliveries in flight at close: a stopping replica gives its leases back at once rather than be
  // killed mid-request and leave them to run out.
  const stopping = new AbortController();

  async function deliver(stream: TLeasedAuditStream): Promise<{ delivered: number; more: boolean }> {
    const fromSeq = stream.cursorSeq;
    // The list may have changed since the stream was created: nothing is sent to a host no longer on it.
    if (!streamHostAllowed(stream.url, options.allowedHosts)) {
      await fail(stream, `${new URL(stream.url).hostname} is not among the hosts audit streams may send to`);
      return { delivered: 0, more: false };
    }
    let signingSecret: string | null;
    let authorization: string | null;
    try {
      signingSecret = stream.signingSecret && decryptSecret(stream.signingSecret, secretKey);
      authorization = stream.authorization && decryptSecret(stream.authorization, secretKey);
    } catch {
      // Never send unsigned or unauthenticated instead: the stream waits until an admin re-creates it.
      await fail(stream, "cannot decrypt the stream's secrets (was PORTCULLIS_SECRET_KEY changed?)");
      return { delivered: 0, more: false };
    }
    let events;
    let scannedTo;
    try {
      ({ events, scannedTo } = await readAuditEventsForStream(db, {
        afterSeq: fromSeq,
        environments: stream.environments,
        limit: batchSize,
      }));
    } catch (err) {
      await fail(stream, `reading the audit store: ${(err as Error).message}`);
      return { delivered: 0, more: false };
    }
    if (events.length === 0) {
      // Nothing for this stream up to scannedTo (or nothing new at all): move past what was filtered out.
      await recordAuditStreamProgress(db, { id: stream.id, holder, fromSeq, toSeq: scannedTo, delivered: 0 });
      return { delivered: 0, more: false };
    }

    // Lines up to the byte limit (one event always goes, whatever its size); the rest waits for the next batch.
    let body = "";
    let bytes = 0;
    let sent = 0;
    for (const event of events) {
      const line = streamLine(toAuditEventDto(event), stream.format);
      const lineBytes = Buffer.byteLength(line);
      if (sent > 0 && bytes + lineBytes > maxBatchBytes) break;
      body += line;
      bytes += lineBytes;
      sent += 1;
    }
    const last = events[sent - 1]!;
    const toSeq = sent === events.length ? scannedTo : last.seq;

    const timestamp = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      "content-type": "application/x-ndjson",
      "user-agent": "Portcullis-audit-stream",
      "x-portcullis-stream": stream.name,
      // The seq range lets a receiver see a gap or a repeat at a glance; the events' ids deduplicate.
      "x-portcullis-seq": `${events[0]!.seq}-${last.seq}`,
    };
    if (signingSecret)
      headers["x-portcullis-signature"] =
        `t=${timestamp},v1=${webhookSignature(signingSecret, timestamp, body)}`;
    if (authorization) headers.authorization = authorization;

    let refusal: string | null = null;
    try {
      const response = await fetch(stream.url, {
        method: "POST",
        headers,
        body,
        // A redirect could carry the events (and the Authorization header) somewhere nobody configured.
        redirect: "manual",
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stopping.signal]),
      });
      const text = await answerPrefix(response);
      if (response.status < 200 || response.status > 299)
        refusal = `HTTP ${response.status}${text ? `: ${text}` : ""}`;
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause;
      refusal =
        (err as Error).name === "TimeoutError"
          ? `no answer within ${timeoutMs} ms`
          : `${(err as Error).message}${cause?.message ? `: ${cause.message}` : ""}`;
    }
    if (refusal !== null) {
      await fail(stream, refusal);
      return { delivered: 0, more: false };
    }
    const moved = await recordAuditStreamProgress(db, {
      id: stream.id,
      holder,
      fromSeq,
      toSeq,
      delivered: sent,
    });
    if (!moved) logger?.warn({ stream: stream.name }, "audit stream changed during a delivery");
    // More waits when the batch was full or trimmed to its byte limit.
    return { delivered: sent, more: moved && (toSeq < scannedTo || events.length >= batchSize) };
  }

  async function fail(stream: TLeasedAuditStream, error: string) {
    if (closed) return; // cut short by close(), not the receiver's fault; close() gives the lease back
    const retryAfterMs = retryDelayMs(stream.failures, maxRetryDelayMs);
    logger?.warn({ stream: stream.name, error, retryAfterMs }, "audit stream delivery failed");
    await recordAuditStreamFailure(db, {
      id: stream.id,
      holder,
      fromSeq: stream.cursorSeq,
      error,
      retryAfterMs,
    });
  }

  async function runOnce() {
    const streams = await leaseDueAuditStreams(db, holder, leaseMs);
    // Settled, not all: one stream's failure must not end the pass while the others' deliveries go on.
    const results = await Promise.allSettled(streams.map(deliver));
    let delivered = 0;
    let more = false;
    for (const result of results) {
      if (result.status === "fulfilled") {
        delivered += result.value.delivered;
        more ||= result.value.more;
      } else logger?.error({ err: result.reason }, "audit stream delivery failed");
    }
    return { delivered, more };
  }

  /** A pass that hangs (a store that never answers) must not stop the forwarder for good. */
  function bounded<T>(pass: Promise<T>): Promise<T> {
    let timeout: NodeJS.Timeout | undefined;
    return Promise.race([
      pass,
      new Promise<never>((_, reject) => {
        timeout = setTimeout(() => reject(new Error(`pass took over ${leaseMs} ms`)), leaseMs);
        timeout.unref();
      }),
    ]).finally(() => clearTimeout(timeout));
  }

  function schedule(delayMs: number) {
    if (closed) return;
    timer = setTimeout(() => {
      timer = null;
      running = bounded(runOnce()).then(
        (result) => schedule(result.more ? 0 : pollMs),
        (err: unknown) => {
          logger?.error({ err }, "audit stream pass failed");
          schedule(pollMs);
        },
      );
    }, delayMs);
    timer.unref();
  }

  return {
    start() {
      if (started) return;
      started = true;
      schedule(0);
    },
    runOnce,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      stopping.abort();
      await running;
      await releaseAuditStreamLeases(db, holder).catch(() => undefined);
    },
  };
}
