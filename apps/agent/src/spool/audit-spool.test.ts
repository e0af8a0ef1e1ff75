import { randomUUID } from "node:crypto";
import { appendFile, type FileHandle, mkdtemp, open, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { wireAuditEvent as event } from "../link/test-events.ts";
import { AuditSpool, SpoolFullError } from "./audit-spool.ts";

const spoolFile = (dir: string) => join(dir, "audit-spool.jsonl");

/** A logger that keeps the warnings it is given and drops the rest. */
function warningsLogger(): { logger: Logger; warnings: unknown[] } {
  const warnings: unknown[] = [];
  const logger = { warn: (...args: unknown[]) => warnings.push(args), info() {}, error() {}, debug() {} };
  return { logger: logger as unknown as Logger, warnings };
}

describe("AuditSpool", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pc-spool-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps pending events oldest first and drops acked ones", async () => {
    const spool = await AuditSpool.open(dir);
    const events = [event("a"), event("b"), event("c")];
    for (const e of events) spool.append(e);
    expect(spool.size).toBe(3);
    expect(spool.pending().map((e) => e.statement)).toEqual(["a", "b", "c"]);
    expect(spool.pending(2).map((e) => e.statement)).toEqual(["a", "b"]);
    expect(spool.ack([events[1]!.id, randomUUID()])).toBe(1);
    expect(spool.pending().map((e) => e.statement)).toEqual(["a", "c"]);
    await spool.close();
  });

  it("recovers pending events and acks after a restart", async () => {
    const first = await AuditSpool.open(dir);
    const events = Array.from({ length: 50 }, (_, i) => event(`q${i}`));
    for (const e of events) first.append(e);
    first.ack(events.slice(0, 20).map((e) => e.id));
    await first.close();

    const second = await AuditSpool.open(dir);
    expect(second.size).toBe(30);
    expect(second.pending().map((e) => e.id)).toEqual(events.slice(20).map((e) => e.id));
    expect(second.pending()[0]).toEqual(events[20]);
    await second.close();
  });

  it("persists on flush() without close (as before a crash)", async () => {
    const spool = await AuditSpool.open(dir);
    const e = event();
    spool.append(e);
    await spool.flush();
    const content = await readFile(spoolFile(dir), "utf8");
    expect(content).toContain(e.id);
    await spool.close();
  });

  it("skips a torn last line with a warning and keeps the rest", async () => {
    const first = await AuditSpool.open(dir);
    const good = event("good");
    first.append(good);
    await first.close();
    // A crash mid-write leaves half a record and no newline.
    const torn = JSON.stringify({ e: event("torn") });
    await appendFile(spoolFile(dir), torn.slice(0, torn.length / 2));

    const { logger, warnings } = warningsLogger();
    const second = await AuditSpool.open(dir, { logger });
    expect(second.pending().map((e) => e.statement)).toEqual(["good"]);
    expect(warnings.length).toBeGreaterThan(0);
    // Appends after recovery land on a clean line and survive another restart.
    second.append(event("after"));
    await second.close();
    const third = await AuditSpool.open(dir);
    expect(third.pending().map((e) => e.statement)).toEqual(["good", "after"]);
    await third.close();
  });

  it("compacts the file once everything is acked", async () => {
    const spool = await AuditSpool.open(dir, { compactEmptyBytes: 4096 });
    const events = Array.from({ length: 100 }, (_, i) => event(`SELECT ${i} -- ${"x".repeat(100)}`));
    for (const e of events) spool.append(e);
    await spool.flush();
    expect((await stat(spoolFile(dir))).size).toBeGreaterThan(20_000);
    spool.ack(events.map((e) => e.id));
    await spool.flush();
    expect((await stat(spoolFile(dir))).size).toBeLessThan(100);
    // Still usable after compaction.
    const late = event("late");
    spool.append(late);
    await spool.close();
    const reopened = await AuditSpool.open(dir);
    expect(reopened.pending().map((e) => e.id)).toEqual([late.id]);
    await reopened.close();
  });

  it("compacts a large file when most of it is acked, without losing pending events", async () => {
    const spool = await AuditSpool.open(dir, { compactLargeBytes: 50_000, compactEmptyBytes: 1e9 });
    // Multi-byte text: the rewrite copies the events' bytes, and every offset after them counts bytes.
    const events = Array.from({ length: 400 }, (_, i) => event(`SELECT ${i} -- é😀 ${"y".repeat(200)}`));
    for (const e of events) spool.append(e);
    spool.ack(events.slice(0, 390).map((e) => e.id));
    // Appends racing with the compaction must survive it.
    const racing = event("racing");
    spool.append(racing);
    await spool.flush();
    expect((await stat(spoolFile(dir))).size).toBeLessThan(20_000);
    await spool.close();
    const reopened = await AuditSpool.open(dir);
    expect(reopened.pending()).toEqual([...events.slice(390), racing]);
    await reopened.close();
  });

  it("refuses appends beyond maxBytes instead of buffering without bound", async () => {
    const spool = await AuditSpool.open(dir, { maxBytes: 5000 });
    expect(() => {
      for (let i = 0; i < 100; i++) spool.append(event());
    }).toThrow(SpoolFullError);
    expect(spool.bytes).toBeLessThanOrEqual(5000);
    await spool.close();
  });

  it("keeps only memoryBytes of events in memory and reads the rest back from disk in order", async () => {
    const spool = await AuditSpool.open(dir, { memoryBytes: 4096 });
    const events = Array.from({ length: 200 }, (_, i) =>
      event(`SELECT ${i} -- ${"z".repeat(i % 7 === 0 ? 900 : 40)}`),
    );
    for (const e of events) spool.append(e);
    expect(spool.size).toBe(200);
    expect(spool.memoryBytes).toBeLessThanOrEqual(4096);
    const inMemory = spool.pendingSerialized().length;
    expect(inMemory).toBeLessThan(200);

    let loads = 0;
    spool.onAppend(() => loads++);
    const delivered: string[] = [];
    while (spool.size > 0) {
      const batch = spool.pendingSerialized(25).map((p) => p.id);
      expect(batch.length).toBeGreaterThan(0);
      delivered.push(...batch);
      spool.ack(batch);
      await spool.flush();
      expect(spool.memoryBytes).toBeLessThanOrEqual(4096);
    }
    expect(delivered).toEqual(events.map((e) => e.id));
    expect(loads).toBeGreaterThan(0);
    expect(spool.bytes).toBe(0);
    await spool.close();
  });

  it.each([7, 11, 23, 42, 99])(
    "survives restarts and compactions racing with appends while events are on disk only (seed %i)",
    async (initialSeed) => {
      let seed = initialSeed;
      const random = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        return seed / 2_147_483_648;
      };
      // Writes start at once (no group commit), so appends and acks land while one is in flight.
      const options = {
        memoryBytes: 3000,
        compactLargeBytes: 6000,
        compactEmptyBytes: 2000,
        groupCommitMs: 0,
      };
      let spool = await AuditSpool.open(dir, options);
      const model: string[] = [];
      const delivered: string[] = [];
      for (let step = 0; step < 500; step++) {
        const r = random();
        if (r < 0.5) {
          const e = event(`SELECT ${step} -- ${"w".repeat(Math.floor(random() * 400))}`);
          spool.append(e);
          model.push(e.id);
        } else if (r < 0.8) {
          // The link acknowledges what it was given: the oldest events in memory.
          const batch = spool.pendingSerialized(1 + Math.floor(random() * 10)).map((p) => p.id);
          expect(batch).toEqual(model.slice(0, batch.length));
          spool.ack(batch);
          delivered.push(...model.splice(0, batch.length));
        } else if (r < 0.9) {
          // Lets the writer make some progress: part of a write, a compaction or a load.
          await new Promise((resolve) => setImmediate(resolve));
        } else if (r < 0.97) {
          await spool.flush();
        } else {
          await spool.close();
          spool = await AuditSpool.open(dir, options);
        }
        expect(spool.size).toBe(model.length);
        expect(spool.memoryBytes).toBeLessThanOrEqual(3000);
      }
      while (spool.size > 0) {
        await spool.flush();
        const batch = spool.pendingSerialized(10).map((p) => p.id);
        expect(batch.length).toBeGreaterThan(0);
        expect(batch).toEqual(model.slice(0, batch.length));
        spool.ack(batch);
        delivered.push(...model.splice(0, batch.length));
      }
      expect(model).toEqual([]);
      expect(new Set(delivered).size).toBe(delivered.length);
      await spool.close();
      const reopened = await AuditSpool.open(dir, options);
      expect(reopened.size).toBe(0);
      await reopened.close();
    },
  );

  describe("with disk faults (injected into Node's FileHandle)", () => {
    const restores: (() => void)[] = [];
    afterEach(() => {
      for (const restore of restores.splice(0)) restore();
    });
    /** Replaces a FileHandle method for every handle until the test ends. */
    async function injectFault<K extends "write" | "read">(
      method: K,
      wrap: (real: FileHandle[K]) => FileHandle[K],
    ): Promise<void> {
      const probe = await open(join(dir, "probe"), "w");
      const proto = Object.getPrototypeOf(probe) as FileHandle;
      await probe.close();
      const real = proto[method];
      proto[method] = wrap(real);
      restores.push(() => (proto[method] = real));
    }

    /** Acks what is in memory, batch by batch, until nothing is pending; returns the order delivered. */
    async function drain(spool: AuditSpool): Promise<string[]> {
      const delivered: string[] = [];
      for (let round = 0; round < 500 && spool.size > 0; round++) {
        await spool.flush();
        const batch = spool.pendingSerialized(3).map((p) => p.id);
        if (batch.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
        delivered.push(...batch);
        spool.ack(batch);
      }
      return delivered;
    }

    it("cuts off what a write that failed part-way left, so nothing is lost or doubled", async () => {
      const options = { memoryBytes: 2000, groupCommitMs: 0 };
      const spool = await AuditSpool.open(dir, options);
      const events = Array.from({ length: 30 }, (_, i) => event(`SELECT ${i} -- ${"v".repeat(80)}`));
      for (const e of events.slice(0, 2)) spool.append(e);
      await spool.flush();
      let armed = true;
      await injectFault(
        "write",
        (real) =>
          async function (this: FileHandle, ...args: unknown[]) {
            const write = real as (...a: unknown[]) => Promise<{ bytesWritten: number }>;
            if (!armed) return write.apply(this, args);
            armed = false;
            // Disk full after part of the chunk, mid-line.
            const [data, offset] = args as [Buffer, number];
            await write.call(this, data, offset, 250);
            throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
          } as FileHandle["write"],
      );
      for (const e of events.slice(2, 5)) spool.append(e);
      await new Promise((resolve) => setTimeout(resolve, 1300)); // the retry
      for (const e of events.slice(5)) spool.append(e);
      expect(await drain(spool)).toEqual(events.map((e) => e.id));
      await spool.close();

      // The file reads back whole: nothing pending, no unreadable line.
      const { logger, warnings } = warningsLogger();
      const reopened = await AuditSpool.open(dir, { logger });
      expect(reopened.size).toBe(0);
      expect(warnings).toEqual([]);
      await reopened.close();
    });

    it("retries reading spilled events after a failed read instead of stalling", async () => {
      const spool = await AuditSpool.open(dir, { memoryBytes: 2000 });
      const events = Array.from({ length: 40 }, (_, i) => event(`SELECT ${i} -- ${"u".repeat(80)}`));
      for (const e of events) spool.append(e);
      await spool.flush();
      let failures = 1;
      await injectFault(
        "read",
        (real) =>
          function (this: FileHandle, ...args: unknown[]) {
            if (failures-- > 0)
              return Promise.reject(Object.assign(new Error("EIO: i/o error"), { code: "EIO" }));
            return (real as (...a: unknown[]) => unknown).apply(this, args);
          } as FileHandle["read"],
      );
      expect(await drain(spool)).toEqual(events.map((e) => e.id));
      expect(failures).toBeLessThan(0);
      await spool.close();
    });
  });

  it("leaves out the events a caller skips, still oldest first and up to the limit", async () => {
    const spool = await AuditSpool.open(dir);
    const events = Array.from({ length: 6 }, (_, i) => event(`SELECT ${i}`));
    for (const e of events) spool.append(e);
    const inFlight = new Set([events[0]!.id, events[1]!.id, events[3]!.id]);
    const ids = (limit?: number) => spool.pendingSerialized(limit, (id) => inFlight.has(id)).map((p) => p.id);
    expect(ids(2)).toEqual([events[2]!.id, events[4]!.id]);
    expect(ids()).toEqual([events[2]!.id, events[4]!.id, events[5]!.id]);
    await spool.close();
  });

  it("notifies append listeners", async () => {
    const spool = await AuditSpool.open(dir);
    let calls = 0;
    const off = spool.onAppend(() => calls++);
    spool.append(event());
    off();
    spool.append(event());
    expect(calls).toBe(1);
    await spool.close();
  });
});
