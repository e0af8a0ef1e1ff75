// Durable queue of audit events the control plane has not acknowledged yet. The agent keeps enforcing while
// the control plane is away, so every event goes to disk first and leaves only on an ack: none is lost.
//
// On disk: one append-only JSON-lines file. `{"e":event}` adds an event, `{"a":[ids]}` acknowledges ids.
// Replaying the file in order rebuilds the pending set. Writes are group-committed in the background (one
// write per burst, not per event); flush()/close() persist everything and fsync. The file is rewritten
// (temp file + atomic rename) when everything is acked or when acked records dominate it.
//
// In memory: only the oldest pending events, up to `memoryBytes` of JSON (what the link sends next). Once
// that is full, newer events are "spilled": on disk only, counted, and read back from the file in order as
// acks make room. So a control plane that is slow or away costs disk, not memory (a backlog held in the
// heap also stayed in the agent's RSS long after it drained).
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ZAuditEvent, type TAuditEvent } from "@portcullis/agent-protocol";
import type { Logger } from "pino";
import { EventBytes } from "./event-bytes.ts";

const SPOOL_FILE = "audit-spool.jsonl";
const LOCK_FILE = "audit-spool.lock";
const HEADER = `${JSON.stringify({ spool: 1 })}\n`;
/** A buffer this big is written at once, without waiting for group commit. */
const GROUP_COMMIT_BYTES = 64 * 1024;

export interface TAuditSpoolOptions {
  logger?: Logger;
  /** Upper bound on the serialized size of pending events; append() throws SpoolFullError beyond it. */
  maxBytes?: number;
  /** How much of the pending events' JSON is kept in memory (the oldest); the rest is read back from disk. */
  memoryBytes?: number;
  /** With nothing pending, the file is truncated once it is at least this big (avoids a rename per ack). */
  compactEmptyBytes?: number;
  /** Past this size, the file is rewritten when less than half of it is still pending. */
  compactLargeBytes?: number;
  /** How often buffered writes are fsynced (a process crash loses nothing once written; a power cut may). */
  syncIntervalMs?: number;
  /** How long a small write waits for more events before it goes to the file (ms, default 5). */
  groupCommitMs?: number;
}

/** Thrown by append() when the spool is at its size limit: the caller decides (e.g. refuse new statements). */
export class SpoolFullError extends Error {
  constructor(maxBytes: number) {
    super(`audit spool is full (${maxBytes} bytes pending): the control plane has not acknowledged events`);
    this.name = "SpoolFullError";
  }
}

/**
 * A pending event kept as the UTF-8 bytes of the JSON it was serialized to once: the link sends them as they
 * are. Bytes, not a string, because they live outside the JS heap: while the control plane lags, thousands of
 * events wait for their ack, and as strings the garbage collector copied each of them twice, from young to old
 * generation (measured: half of the agent's scavenge time under pgbench with a 16 MB window, about 5 µs per
 * statement).
 */
interface TEntry {
  /** The event's JSON. */
  data: Buffer;
  /** The size of its spool line. */
  bytes: number;
}

/** An event's line is `{"e":<event JSON>}` and a newline; these are the parts around the JSON. */
const EVENT_PREFIX = '{"e":';
const EVENT_SUFFIX = "}\n";
const EVENT_PREFIX_BYTES = Buffer.from(EVENT_PREFIX);
const EVENT_SUFFIX_BYTES = Buffer.from(EVENT_SUFFIX);
const spoolLine = (json: string) => `${EVENT_PREFIX}${json}${EVENT_SUFFIX}`;
const LINE_OVERHEAD = EVENT_PREFIX_BYTES.length + EVENT_SUFFIX_BYTES.length;

const LEADING_UUID = /^\{"id":"([0-9a-fA-F-]{36})"/;

/** An event's id, read off its JSON without parsing the rest when it comes first (as the agent writes it). */
function eventId(json: Buffer): string {
  return (
    LEADING_UUID.exec(json.toString("latin1", 0, 44))?.[1] ??
    (JSON.parse(json.toString()) as { id: string }).id
  );
}

/** An event joins those in memory if it fits, or if none are (so one larger than the window still moves). */
const fitsInMemory = (loadedBytes: number, bytes: number, memoryBytes: number) =>
  loadedBytes === 0 || loadedBytes + bytes <= memoryBytes;
/** Whether the line at bytes start-end (its newline excluded) is an event line, `{"e":…}`. */
function isEventLine(data: Buffer, start: number, end: number): boolean {
  const prefixEnd = start + EVENT_PREFIX_BYTES.length;
  return (
    end > prefixEnd && data.compare(EVENT_PREFIX_BYTES, 0, EVENT_PREFIX_BYTES.length, start, prefixEnd) === 0
  );
}
/** Reads of spilled events start at this size (and grow for a longer line). */
const LOAD_CHUNK_BYTES = 256 * 1024;

export class AuditSpool {
  /** The oldest pending events, insertion-ordered, so iteration is oldest first. */
  private readonly entries = new Map<string, TEntry>();
  private readonly listeners = new Set<() => void>();
  /** Serialized size of every pending event, in memory or spilled. */
  private liveBytes = 0;
  private loadedBytes = 0;
  /**
   * Spilled events: newer than every event in memory, on disk from byte `spilledFrom` of the file on (every
   * event line from there is one; the newest may still be in `buffer`). While any are spilled, appends spill
   * too, so the order holds.
   */
  private spilledCount = 0;
  private spilledBytes = 0;
  private spilledFrom = 0;
  private loadRequested = false;
  private fileBytes = 0;
  /** Bytes handed to a write that has not completed: with fileBytes and bufferBytes, where a new line lands. */
  private writingBytes = 0;
  /** Lines to write, as bytes: an in-memory event's line is a view into the chunk that holds its JSON. */
  private buffer: Buffer[] = [];
  private bufferBytes = 0;
  private writer: Promise<void> | null = null;
  private compactRequested = false;
  private unsynced = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private loadRetryTimer: NodeJS.Timeout | null = null;
  /** A write failed: the file may hold part of it past fileBytes. */
  private tornTail = false;
  private lastWriteError: Error | null = null;
  private readonly syncTimer: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private handle: FileHandle,
    private readonly options: Required<Omit<TAuditSpoolOptions, "logger">> & { logger: Logger | undefined },
    private readonly eventBytes: EventBytes,
  ) {
    this.syncTimer = setInterval(() => void this.syncQuietly(), options.syncIntervalMs);
    this.syncTimer.unref();
  }

  /** Opens (or creates) the spool in `dir`, recovering events that were pending when the process last stopped. */
  static async open(dir: string, options: TAuditSpoolOptions = {}): Promise<AuditSpool> {
    const resolved = {
      logger: options.logger,
      maxBytes: options.maxBytes ?? 256 * 1024 * 1024,
      memoryBytes: options.memoryBytes ?? 16 * 1024 * 1024,
      compactEmptyBytes: options.compactEmptyBytes ?? 64 * 1024,
      compactLargeBytes: options.compactLargeBytes ?? 16 * 1024 * 1024,
      syncIntervalMs: options.syncIntervalMs ?? 1000,
      groupCommitMs: options.groupCommitMs ?? 5,
    };
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await takeLock(dir);
    // Rewritten at open: drops acked records and any torn tail, so later appends start on a clean line.
    const eventBytes = new EventBytes();
    const recovered = await recover(dir, resolved.memoryBytes, eventBytes, resolved.logger);
    const handle = await open(join(dir, SPOOL_FILE), "a", 0o600);
    const spool = new AuditSpool(dir, handle, resolved, eventBytes);
    for (const [id, entry] of recovered.loaded) {
      spool.entries.set(id, entry);
      spool.loadedBytes += entry.bytes;
    }
    spool.spilledCount = recovered.spilledCount;
    spool.spilledBytes = recovered.spilledBytes;
    spool.spilledFrom = recovered.spilledFrom;
    spool.liveBytes = spool.loadedBytes + spool.spilledBytes;
    spool.fileBytes = (await handle.stat()).size;
    if (spool.size > 0)
      resolved.logger?.info(
        { pending: spool.size, onDiskOnly: spool.spilledCount },
        "audit spool recovered pending events",
      );
    return spool;
  }

  /** Number of events not yet acknowledged. */
  get size(): number {
    return this.entries.size + this.spilledCount;
  }

  /** Serialized size of the pending events held in memory (the rest are read back from disk). */
  get memoryBytes(): number {
    return this.loadedBytes;
  }

  /** Number of pending events in memory: what pendingSerialized() can return now. */
  get inMemory(): number {
    return this.entries.size;
  }

  /** Serialized size of the pending events. */
  get bytes(): number {
    return this.liveBytes;
  }

  /**
   * Queues an event in memory and for disk (written in the background; see flush()). Event ids are unique
   * (issued per event): a repeat of one still in memory is ignored; spilled ones are not looked up. `json` is
   * the event's JSON when the caller has it already.
   */
  append(event: TAuditEvent, json = JSON.stringify(event)): void {
    if (this.closed) throw new Error("audit spool is closed");
    if (this.entries.has(event.id)) return;
    const jsonBytes = Buffer.byteLength(json);
    const bytes = jsonBytes + LINE_OVERHEAD;
    if (this.liveBytes + bytes > this.options.maxBytes) throw new SpoolFullError(this.options.maxBytes);
    this.liveBytes += bytes;
    if (this.spilledCount > 0 || !fitsInMemory(this.loadedBytes, bytes, this.options.memoryBytes)) {
      if (this.spilledCount === 0) this.spilledFrom = this.fileBytes + this.writingBytes + this.bufferBytes;
      this.spilledCount += 1;
      this.spilledBytes += bytes;
      this.enqueue(Buffer.from(spoolLine(json)), bytes);
    } else {
      // Encoded once: the file's line and the bytes the link sends are the same memory.
      const { whole, inner } = this.eventBytes.wrapped(
        EVENT_PREFIX_BYTES,
        json,
        jsonBytes,
        EVENT_SUFFIX_BYTES,
      );
      this.entries.set(event.id, { data: inner, bytes });
      this.loadedBytes += bytes;
      this.enqueue(whole, bytes);
    }
    for (const listener of this.listeners) listener();
  }

  /** Oldest pending events first (those in memory: see memoryBytes). */
  pending(limit = Number.POSITIVE_INFINITY): TAuditEvent[] {
    return this.pendingSerialized(limit).map((p) => JSON.parse(p.data.toString()) as TAuditEvent);
  }

  /**
   * Oldest pending events first, as their JSON's UTF-8 bytes (what the link puts on the wire), leaving out
   * those `skip` names (the link's events in flight: passed over, not fetched and then filtered).
   */
  pendingSerialized(
    limit = Number.POSITIVE_INFINITY,
    skip?: (id: string) => boolean,
  ): { id: string; data: Buffer }[] {
    const out: { id: string; data: Buffer }[] = [];
    for (const [id, { data }] of this.entries) {
      if (out.length >= limit) break;
      if (skip?.(id)) continue;
      out.push({ id, data });
    }
    return out;
  }

  /** Drops acknowledged (or rejected) events; unknown ids are ignored. Returns how many were removed. */
  ack(ids: Iterable<string>): number {
    const removed: string[] = [];
    for (const id of ids) {
      const entry = this.entries.get(id);
      if (!entry) continue;
      this.entries.delete(id);
      this.liveBytes -= entry.bytes;
      this.loadedBytes -= entry.bytes;
      removed.push(id);
    }
    if (removed.length === 0 || this.closed) return removed.length;
    this.requestLoadIfRoom();
    const line = Buffer.from(`${JSON.stringify({ a: removed })}\n`);
    this.enqueue(line, line.length);
    const total = this.fileBytes + this.bufferBytes;
    if (
      (this.size === 0 && total >= this.options.compactEmptyBytes) ||
      (total >= this.options.compactLargeBytes && total > 2 * this.liveBytes)
    ) {
      this.compactRequested = true;
      this.kickWriter();
    }
    return removed.length;
  }

  /**
   * Calls `listener` after every append, and after spilled events are back in memory (the link uses it to
   * send promptly). Returns an unsubscribe function.
   */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once everything appended or acked so far is on disk and fsynced. */
  async flush(): Promise<void> {
    while (this.writer || this.buffer.length > 0 || this.compactRequested) {
      this.kickWriter();
      if (this.writer) {
        await this.writer;
        continue;
      }
      // The writer is waiting to retry a failed write: surface the failure instead of spinning.
      throw this.lastWriteError ?? new Error("audit spool writer is stalled");
    }
    await this.handle.datasync();
    this.unsynced = false;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      clearInterval(this.syncTimer);
      if (this.retryTimer) clearTimeout(this.retryTimer);
      if (this.loadRetryTimer) clearTimeout(this.loadRetryTimer);
      this.listeners.clear();
      await this.handle.close();
      await rm(join(this.dir, LOCK_FILE), { force: true });
    }
  }

  private enqueue(line: Buffer, bytes: number): void {
    this.buffer.push(line);
    this.bufferBytes += bytes;
    this.kickWriter();
  }

  /** One writer at a time; whatever accumulates while it writes goes out in the next single write. */
  private kickWriter(): void {
    if (this.writer || this.retryTimer) return;
    this.writer = (async () => {
      while ((this.buffer.length > 0 || this.compactRequested || this.loadRequested) && !this.retryTimer) {
        if (this.compactRequested) {
          this.compactRequested = false;
          await this.compactNow();
          continue;
        }
        // Spilled events are read from the file: a load goes first when some are written (a busy agent
        // always has something buffered), otherwise the buffer is written first.
        if (this.loadRequested && (this.buffer.length === 0 || this.spilledFrom < this.fileBytes)) {
          this.loadRequested = false;
          try {
            await this.loadSpilled();
          } catch (err) {
            // Writing goes on; the load is asked for again in a second.
            this.options.logger?.error({ err }, "audit spool could not read spilled events; retrying in 1s");
            this.loadRetryTimer ??= setTimeout(() => {
              this.loadRetryTimer = null;
              this.loadRequested = true;
              this.kickWriter();
            }, 1000).unref();
          }
          continue;
        }
        // Group commit: a small buffer waits a moment for company, so a busy agent writes one chunk per
        // few milliseconds rather than one per statement. (A crash loses at most that moment; a flush()
        // waits for it.)
        if (this.bufferBytes < GROUP_COMMIT_BYTES && this.options.groupCommitMs > 0)
          await new Promise((resolve) => setTimeout(resolve, this.options.groupCommitMs));
        await this.writeBuffer();
      }
    })()
      .catch((err: unknown) => {
        // Only reachable if reopening the spool file failed after a compaction: nothing more can be written.
        this.lastWriteError = err as Error;
        this.options.logger?.error({ err }, "audit spool writer failed");
      })
      .finally(() => {
        this.writer = null;
      });
  }

  /**
   * Appends the buffer to the file. On failure (disk full or similar) the data stays buffered (still bounded
   * by maxBytes) and is retried shortly; whatever part of it the failed write left in the file is cut off
   * first, or every offset after it (and the next line) would be wrong.
   */
  private async writeBuffer(): Promise<boolean> {
    const chunk = joinLines(this.buffer, this.bufferBytes);
    const chunkBytes = this.bufferBytes;
    this.buffer = [];
    this.bufferBytes = 0;
    this.writingBytes = chunkBytes;
    try {
      if (this.tornTail) {
        await this.handle.truncate(this.fileBytes);
        this.tornTail = false;
      }
      if (chunk.length > 0) await writeAll(this.handle, chunk);
      this.fileBytes += chunkBytes;
      this.unsynced = true;
      this.lastWriteError = null;
      return true;
    } catch (err) {
      this.tornTail = true;
      if (chunk.length > 0) this.buffer.unshift(chunk);
      this.bufferBytes += chunkBytes;
      this.lastWriteError = err as Error;
      this.options.logger?.error({ err }, "audit spool write failed; retrying in 1s");
      this.retryLater();
      return false;
    } finally {
      this.writingBytes = 0;
    }
  }

  /** The writer stops; it starts again in a second with whatever is still to do. */
  private retryLater(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.kickWriter();
    }, 1000).unref();
  }

  /**
   * Runs inside the writer. The new file holds the events in memory, then the spilled ones copied from the
   * old file. What is buffered now goes to the old file first (spilled events may be among it); what is
   * appended or acked meanwhile is buffered and lands after the rewrite.
   */
  private async compactNow(): Promise<void> {
    const snapshot = [...this.entries.values()];
    // Where lines buffered from now on start, in the old file's numbering.
    const base = this.fileBytes + this.bufferBytes;
    const spilled = this.spilledCount > 0 ? { from: this.spilledFrom, to: base } : null;
    // On failure the compaction waits for its next trigger.
    if (!(await this.writeBuffer())) return;
    let rewritten = false;
    try {
      await this.handle.close();
      const spilledFrom = await writeCompacted(this.dir, snapshot, spilled);
      rewritten = true;
      if (spilled) this.spilledFrom = spilledFrom;
    } catch (err) {
      // The old file is still whole (rename is atomic) and holds everything: carry on appending to it.
      this.options.logger?.error({ err }, "audit spool compaction failed");
    } finally {
      this.handle = await open(join(this.dir, SPOOL_FILE), "a", 0o600);
      this.fileBytes = (await this.handle.stat()).size;
    }
    // Spilling began during the rewrite: its lines are all buffered, now to follow the new file's end.
    if (rewritten && !spilled && this.spilledCount > 0)
      this.spilledFrom = this.fileBytes + (this.spilledFrom - base);
    this.options.logger?.debug({ pending: this.size, fileBytes: this.fileBytes }, "audit spool compacted");
  }

  /**
   * Runs inside the writer, with the buffer written: reads spilled events back from the file, oldest first,
   * until memoryBytes is reached or the file's end (the newest may still be buffered: another pass follows).
   */
  private async loadSpilled(): Promise<void> {
    if (this.spilledCount === 0 || this.loadedBytes >= this.options.memoryBytes) return;
    const loadedBefore = this.entries.size;
    const reader = await open(join(this.dir, SPOOL_FILE), "r");
    try {
      let chunkBytes = LOAD_CHUNK_BYTES;
      let full = false;
      while (this.spilledCount > 0 && !full) {
        const length = Math.min(chunkBytes, this.fileBytes - this.spilledFrom);
        if (length <= 0) break;
        const data = Buffer.alloc(length);
        const { bytesRead } = await reader.read(data, 0, length, this.spilledFrom);
        let start = 0;
        for (;;) {
          const end = data.indexOf(0x0a, start);
          if (end < 0 || end >= bytesRead) break;
          const lineBytes = end + 1 - start;
          // Ack lines in the spilled region concern events already in memory when they were written.
          if (isEventLine(data, start, end)) {
            if (!fitsInMemory(this.loadedBytes, lineBytes, this.options.memoryBytes)) {
              full = true;
              break;
            }
            const json = this.eventBytes.fromBytes(data.subarray(start + EVENT_PREFIX_BYTES.length, end - 1));
            const id = eventId(json);
            this.entries.set(id, { data: json, bytes: lineBytes });
            this.loadedBytes += lineBytes;
            this.spilledBytes -= lineBytes;
            this.spilledCount -= 1;
          }
          start = end + 1;
          this.spilledFrom += lineBytes;
          if (this.spilledCount === 0) break;
        }
        // No whole line in the chunk: one event longer than it. Read more at once.
        if (start === 0 && !full) {
          if (length === this.fileBytes - this.spilledFrom) break;
          chunkBytes *= 2;
        }
      }
    } finally {
      await reader.close();
    }
    // Some spilled events were still buffered: once written, load them too.
    if (this.spilledCount > 0 && this.spilledFrom >= this.fileBytes && this.buffer.length > 0)
      this.loadRequested = true;
    if (this.entries.size > loadedBefore) for (const listener of this.listeners) listener();
  }

  /** Asks the writer to read spilled events back once at most half of memoryBytes is in use. */
  private requestLoadIfRoom(): void {
    if (this.spilledCount === 0 || this.loadedBytes > this.options.memoryBytes / 2) return;
    this.loadRequested = true;
    this.kickWriter();
  }

  private async syncQuietly(): Promise<void> {
    // A safety net: spilled events wait for room that acks would have asked to fill.
    if (!this.closed && !this.loadRetryTimer) this.requestLoadIfRoom();
    if (!this.unsynced || this.closed || this.writer) return;
    this.unsynced = false;
    try {
      await this.handle.datasync();
    } catch (err) {
      this.options.logger?.warn({ err }, "audit spool fsync failed");
    }
  }
}

interface TRecovered {
  loaded: Map<string, TEntry>;
  spilledCount: number;
  spilledBytes: number;
  spilledFrom: number;
}

/**
 * The buffered lines as one Buffer. Lines that lie next to each other in memory (events appended in a row
 * share a chunk) are one view, not a copy; only a buffer of several ranges is copied into one.
 */
function joinLines(lines: Buffer[], totalBytes: number): Buffer {
  const ranges: Buffer[] = [];
  for (const line of lines) {
    const last = ranges.at(-1);
    if (last && last.buffer === line.buffer && last.byteOffset + last.length === line.byteOffset)
      ranges[ranges.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + line.length);
    else ranges.push(line);
  }
  return ranges.length === 1 ? ranges[0]! : Buffer.concat(ranges, totalBytes);
}

/** Appends all of `data` (the file is opened for appending); a short write goes on where it stopped. */
async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    // A regular file that takes nothing and reports no error: fail (the writer retries) rather than spin.
    if (bytesWritten === 0) throw new Error("audit spool write made no progress");
    offset += bytesWritten;
  }
}

/**
 * Replays the spool file into a compacted one (pending events only, in order) and keeps the oldest
 * `memoryBytes` of them in memory. Two passes, so only ids, not events, are held for the whole file: the
 * acknowledged ones first, then each pending event as it is copied.
 */
async function recover(
  dir: string,
  memoryBytes: number,
  eventBytes: EventBytes,
  logger: Logger | undefined,
): Promise<TRecovered> {
  const path = join(dir, SPOOL_FILE);
  const recovered: TRecovered = { loaded: new Map(), spilledCount: 0, spilledBytes: 0, spilledFrom: 0 };
  const acked = new Set<string>();
  const size = await stat(path).then(
    (s) => s.size,
    () => -1,
  );
  const lines = async function* () {
    if (size <= 0) return;
    const reader = createInterface({
      input: createReadStream(path, { encoding: "utf8" }),
      crlfDelay: Infinity,
    });
    let lineNo = 0;
    for await (const line of reader) {
      lineNo += 1;
      if (line.length > 0) yield { lineNo, line };
    }
  };
  const parse = (line: string): unknown => {
    try {
      return JSON.parse(line);
    } catch {
      return undefined;
    }
  };
  for await (const { line } of lines()) {
    if (!line.startsWith('{"a":')) continue;
    const record = parse(line) as { a?: unknown } | undefined;
    if (Array.isArray(record?.a)) for (const id of record.a) if (typeof id === "string") acked.add(id);
  }

  const seen = new Set<string>();
  let bad = 0;
  let loadedBytes = 0;
  await writeSpoolFile(dir, async (write) => {
    for await (const { lineNo, line: text } of lines()) {
      const record = parse(text);
      if (record === undefined) {
        // Normally the last line, torn by a crash mid-write. Its event is lost unless it had already reached
        // the control plane, so say so loudly; the rest of the file is still good.
        bad += 1;
        logger?.warn({ path, line: lineNo }, "audit spool: skipping unreadable line (torn write?)");
        continue;
      }
      if (typeof record !== "object" || record === null || !("e" in record)) continue;
      const parsed = ZAuditEvent.safeParse(record.e);
      if (!parsed.success) {
        bad += 1;
        logger?.warn({ path, line: lineNo }, "audit spool: skipping invalid event record");
        continue;
      }
      const { id } = parsed.data;
      if (acked.has(id) || seen.has(id)) continue;
      seen.add(id);
      const json = JSON.stringify(parsed.data);
      const line = spoolLine(json);
      const bytes = Buffer.byteLength(line);
      const offset = await write(line);
      if (recovered.spilledCount === 0 && fitsInMemory(loadedBytes, bytes, memoryBytes)) {
        recovered.loaded.set(id, { data: eventBytes.fromString(json), bytes });
        loadedBytes += bytes;
      } else {
        if (recovered.spilledCount === 0) recovered.spilledFrom = offset;
        recovered.spilledCount += 1;
        recovered.spilledBytes += bytes;
      }
    }
  });
  if (bad > 0) logger?.warn({ path, skipped: bad }, "audit spool recovered with skipped lines");
  return recovered;
}

/**
 * Writes the events in memory, then the spilled event lines of the current file's byte range
 * `spilled.from`-`spilled.to`, as the new spool file. Returns where the spilled ones start in it.
 */
async function writeCompacted(
  dir: string,
  entries: Iterable<TEntry>,
  spilled: { from: number; to: number } | null,
): Promise<number> {
  let spilledFrom = 0;
  await writeSpoolFile(dir, async (write) => {
    for (const { data } of entries) await write(EVENT_PREFIX_BYTES, data, EVENT_SUFFIX_BYTES);
    spilledFrom = await write("");
    if (!spilled || spilled.to <= spilled.from) return;
    const lines = createInterface({
      input: createReadStream(join(dir, SPOOL_FILE), {
        encoding: "utf8",
        start: spilled.from,
        end: spilled.to - 1,
      }),
      crlfDelay: Infinity,
    });
    for await (const line of lines) if (line.startsWith(EVENT_PREFIX)) await write(`${line}\n`);
  });
  return spilledFrom;
}

/**
 * Writes a new spool file (header, then what `fill` writes) to a temp file, fsyncs it, and renames it over
 * the spool file (atomic). `write` buffers a line, given whole or in parts, and returns the byte offset it
 * starts at.
 */
async function writeSpoolFile(
  dir: string,
  fill: (write: (...parts: (string | Buffer)[]) => Promise<number>) => Promise<void>,
): Promise<void> {
  const tmp = join(dir, `${SPOOL_FILE}.tmp`);
  const handle = await open(tmp, "w", 0o600);
  try {
    let pending: Buffer[] = [Buffer.from(HEADER)];
    let pendingBytes = pending[0]!.length;
    let offset = pendingBytes;
    await fill(async (...parts) => {
      const at = offset;
      for (const part of parts) {
        // Bytes (an in-memory event's JSON) go in as they are: a compaction does not decode and re-encode.
        const bytes = typeof part === "string" ? Buffer.from(part) : part;
        pending.push(bytes);
        pendingBytes += bytes.length;
        offset += bytes.length;
      }
      // Bounded chunks: a large backlog is not built into one giant buffer.
      if (pendingBytes > 1024 * 1024) {
        await writeAll(handle, Buffer.concat(pending, pendingBytes));
        pending = [];
        pendingBytes = 0;
      }
      return at;
    });
    await writeAll(handle, Buffer.concat(pending, pendingBytes));
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(tmp, join(dir, SPOOL_FILE));
  await fsyncDir(dir);
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes the rename itself durable. Not supported everywhere (e.g. Windows): best effort.
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    /* best effort */
  }
}

/** Two agent processes on one spool would corrupt it: refuse if another live process holds the lock. */
async function takeLock(dir: string): Promise<void> {
  const path = join(dir, LOCK_FILE);
  const holder = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
  if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
    throw new Error(`audit spool ${dir} is in use by process ${holder}`);
  }
  await writeFile(path, String(process.pid), { mode: 0o600 });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
