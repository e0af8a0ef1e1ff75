// Durable queue of audit events the control plane has not acknowledged yet. The agent keeps enforcing while
// the control plane is away, so every event goes to disk first and leaves only on an ack: none is lost.
//
// On disk: one append-only JSON-lines file. `{"e":event}` adds an event, `{"a":[ids]}` acknowledges ids.
// Replaying the file in order rebuilds the pending set. Writes are group-committed in the background (one
// write per burst, not per event); flush()/close() persist everything and fsync. The file is rewritten
// (temp file + atomic rename) when everything is acked or when acked records dominate it.
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ZAuditEvent, type TAuditEvent } from "@portcullis/agent-protocol";
import type { Logger } from "pino";

const SPOOL_FILE = "audit-spool.jsonl";
const LOCK_FILE = "audit-spool.lock";
const HEADER = `${JSON.stringify({ spool: 1 })}\n`;
/** A buffer this big is written at once, without waiting for group commit. */
const GROUP_COMMIT_BYTES = 64 * 1024;

export interface TAuditSpoolOptions {
  logger?: Logger;
  /** Upper bound on the serialized size of pending events; append() throws SpoolFullError beyond it. */
  maxBytes?: number;
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

/** A pending event kept as the JSON it was serialized to once: a third of the memory of the object, and
 * the link sends it as is. */
interface TEntry {
  json: string;
  bytes: number;
}

const spoolLine = (json: string) => `{"e":${json}}\n`;

export class AuditSpool {
  /** Insertion-ordered, so iteration is oldest first. */
  private readonly entries = new Map<string, TEntry>();
  private readonly listeners = new Set<() => void>();
  private liveBytes = 0;
  private fileBytes = 0;
  private buffer: string[] = [];
  private bufferBytes = 0;
  private writer: Promise<void> | null = null;
  private compactRequested = false;
  private unsynced = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private lastWriteError: Error | null = null;
  private readonly syncTimer: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private handle: FileHandle,
    private readonly options: Required<Omit<TAuditSpoolOptions, "logger">> & { logger: Logger | undefined },
  ) {
    this.syncTimer = setInterval(() => void this.syncQuietly(), options.syncIntervalMs);
    this.syncTimer.unref();
  }

  /** Opens (or creates) the spool in `dir`, recovering events that were pending when the process last stopped. */
  static async open(dir: string, options: TAuditSpoolOptions = {}): Promise<AuditSpool> {
    const resolved = {
      logger: options.logger,
      maxBytes: options.maxBytes ?? 256 * 1024 * 1024,
      compactEmptyBytes: options.compactEmptyBytes ?? 64 * 1024,
      compactLargeBytes: options.compactLargeBytes ?? 16 * 1024 * 1024,
      syncIntervalMs: options.syncIntervalMs ?? 1000,
      groupCommitMs: options.groupCommitMs ?? 5,
    };
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await takeLock(dir);
    const recovered = await recover(join(dir, SPOOL_FILE), resolved.logger);
    // Rewrite at open: drops acked records and any torn tail, so later appends start on a clean line.
    await writeCompacted(dir, recovered.values());
    const handle = await open(join(dir, SPOOL_FILE), "a", 0o600);
    const spool = new AuditSpool(dir, handle, resolved);
    for (const [id, entry] of recovered) {
      spool.entries.set(id, entry);
      spool.liveBytes += entry.bytes;
    }
    spool.fileBytes = (await handle.stat()).size;
    if (recovered.size > 0)
      resolved.logger?.info({ pending: recovered.size }, "audit spool recovered pending events");
    return spool;
  }

  /** Number of events not yet acknowledged. */
  get size(): number {
    return this.entries.size;
  }

  /** Serialized size of the pending events. */
  get bytes(): number {
    return this.liveBytes;
  }

  /** Queues an event in memory and for disk (written in the background; see flush()). */
  append(event: TAuditEvent): void {
    if (this.closed) throw new Error("audit spool is closed");
    if (this.entries.has(event.id)) return;
    const json = JSON.stringify(event);
    const line = spoolLine(json);
    const bytes = Buffer.byteLength(line);
    if (this.liveBytes + bytes > this.options.maxBytes) throw new SpoolFullError(this.options.maxBytes);
    this.entries.set(event.id, { json, bytes });
    this.liveBytes += bytes;
    this.enqueue(line, bytes);
    for (const listener of this.listeners) listener();
  }

  /** Oldest pending events first. */
  pending(limit = Number.POSITIVE_INFINITY): TAuditEvent[] {
    return this.pendingSerialized(limit).map((p) => JSON.parse(p.json) as TAuditEvent);
  }

  /** Oldest pending events first, as their JSON (what the link puts on the wire). */
  pendingSerialized(limit = Number.POSITIVE_INFINITY): { id: string; json: string }[] {
    const out: { id: string; json: string }[] = [];
    for (const [id, { json }] of this.entries) {
      if (out.length >= limit) break;
      out.push({ id, json });
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
      removed.push(id);
    }
    if (removed.length === 0 || this.closed) return removed.length;
    const line = `${JSON.stringify({ a: removed })}\n`;
    this.enqueue(line, Buffer.byteLength(line));
    const total = this.fileBytes + this.bufferBytes;
    if (
      (this.entries.size === 0 && total >= this.options.compactEmptyBytes) ||
      (total >= this.options.compactLargeBytes && total > 2 * this.liveBytes)
    ) {
      this.compactRequested = true;
      this.kickWriter();
    }
    return removed.length;
  }

  /** Calls `listener` after every append (the link uses it to send promptly). Returns an unsubscribe function. */
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
      this.listeners.clear();
      await this.handle.close();
      await rm(join(this.dir, LOCK_FILE), { force: true });
    }
  }

  private enqueue(line: string, bytes: number): void {
    this.buffer.push(line);
    this.bufferBytes += bytes;
    this.kickWriter();
  }

  /** One writer at a time; whatever accumulates while it writes goes out in the next single write. */
  private kickWriter(): void {
    if (this.writer || this.retryTimer) return;
    this.writer = (async () => {
      while (this.buffer.length > 0 || this.compactRequested) {
        if (this.compactRequested) {
          this.compactRequested = false;
          await this.compactNow();
          continue;
        }
        // Group commit: a small buffer waits a moment for company, so a busy agent writes one chunk per
        // few milliseconds rather than one per statement. (A crash loses at most that moment; a flush()
        // waits for it.)
        if (this.bufferBytes < GROUP_COMMIT_BYTES && this.options.groupCommitMs > 0)
          await new Promise((resolve) => setTimeout(resolve, this.options.groupCommitMs));
        const chunk = this.buffer.join("");
        const chunkBytes = this.bufferBytes;
        this.buffer = [];
        this.bufferBytes = 0;
        try {
          await this.handle.appendFile(chunk);
          this.fileBytes += chunkBytes;
          this.unsynced = true;
          this.lastWriteError = null;
        } catch (err) {
          // Disk full or similar: keep the data (still bounded by maxBytes) and retry shortly.
          this.buffer.unshift(chunk);
          this.bufferBytes += chunkBytes;
          this.lastWriteError = err as Error;
          this.options.logger?.error({ err }, "audit spool write failed; retrying in 1s");
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.kickWriter();
          }, 1000);
          this.retryTimer.unref();
          return;
        }
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

  /** Runs inside the writer. The snapshot covers buffered lines too, so the buffer is dropped with it. */
  private async compactNow(): Promise<void> {
    const snapshot = [...this.entries.values()];
    this.buffer = [];
    this.bufferBytes = 0;
    try {
      await this.handle.close();
      await writeCompacted(this.dir, snapshot);
    } catch (err) {
      // The old file is still whole (rename is atomic): rewrite everything pending on the next pass.
      this.options.logger?.error({ err }, "audit spool compaction failed");
      for (const entry of snapshot) this.buffer.push(spoolLine(entry.json));
      this.bufferBytes = snapshot.reduce((n, e) => n + e.bytes, 0);
    } finally {
      this.handle = await open(join(this.dir, SPOOL_FILE), "a", 0o600);
      this.fileBytes = (await this.handle.stat()).size;
    }
    this.options.logger?.debug(
      { pending: snapshot.length, fileBytes: this.fileBytes },
      "audit spool compacted",
    );
  }

  private async syncQuietly(): Promise<void> {
    if (!this.unsynced || this.closed || this.writer) return;
    this.unsynced = false;
    try {
      await this.handle.datasync();
    } catch (err) {
      this.options.logger?.warn({ err }, "audit spool fsync failed");
    }
  }
}

async function recover(path: string, logger: Logger | undefined): Promise<Map<string, TEntry>> {
  const entries = new Map<string, TEntry>();
  const size = await stat(path).then(
    (s) => s.size,
    () => -1,
  );
  if (size <= 0) return entries;
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  let lineNo = 0;
  let bad = 0;
  for await (const line of lines) {
    lineNo += 1;
    if (line.length === 0) continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      // Normally the last line, torn by a crash mid-write. Its event is lost unless it had already reached
      // the control plane, so say so loudly; the rest of the file is still good.
      bad += 1;
      logger?.warn({ path, line: lineNo }, "audit spool: skipping unreadable line (torn write?)");
      continue;
    }
    if (typeof record !== "object" || record === null) continue;
    if ("e" in record) {
      const parsed = ZAuditEvent.safeParse(record.e);
      if (!parsed.success) {
        bad += 1;
        logger?.warn({ path, line: lineNo }, "audit spool: skipping invalid event record");
        continue;
      }
      const json = JSON.stringify(parsed.data);
      if (!entries.has(parsed.data.id))
        entries.set(parsed.data.id, { json, bytes: Buffer.byteLength(spoolLine(json)) });
    } else if ("a" in record && Array.isArray(record.a)) {
      for (const id of record.a) if (typeof id === "string") entries.delete(id);
    }
  }
  if (bad > 0) logger?.warn({ path, skipped: bad }, "audit spool recovered with skipped lines");
  return entries;
}

/** Writes the pending events to a temp file, fsyncs it, and renames it over the spool file (atomic). */
async function writeCompacted(dir: string, entries: Iterable<TEntry>): Promise<void> {
  const tmp = join(dir, `${SPOOL_FILE}.tmp`);
  const handle = await open(tmp, "w", 0o600);
  try {
    let chunk = HEADER;
    for (const { json } of entries) {
      chunk += spoolLine(json);
      // Bounded chunks: a large backlog is not built into one giant string.
      if (chunk.length > 1024 * 1024) {
        await handle.appendFile(chunk);
        chunk = "";
      }
    }
    await handle.appendFile(chunk);
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
