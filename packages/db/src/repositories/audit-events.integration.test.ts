import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chainHash } from "../audit-chain.ts";
import { createDb, type TDb } from "../client.ts";
import { createTestDatabase, newAuditEvent } from "../test-support.ts";
import {
  appendAuditEvents,
  appendAuditEventsIn,
  appendAuditEventsOrRefuse,
  auditEventSelect,
  listAuditEvents,
  verifyAuditChain,
  type TNewAuditEvent,
} from "./audit-events.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;

const make = (statement: string): TNewAuditEvent => newAuditEvent({ statement, tables: ["customers"] });

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 4 });
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("audit events", () => {
  it("appends idempotently: redelivered ids are skipped, not doubled", async () => {
    const batch = [make("select 1"), make("select 2")];
    expect((await appendAuditEvents(db, batch)).inserted).toHaveLength(2);
    const again = await appendAuditEvents(db, [batch[0]!, make("select 3")]);
    expect(again.duplicates).toEqual([batch[0]!.id]);
    expect(again.inserted).toHaveLength(1);
    expect(await db.auditEvent.count()).toBe(3);
  });

  it("keeps one valid chain under concurrent appends", async () => {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        appendAuditEvents(db, [make(`select ${100 + i}`), make(`select ${200 + i}`)]),
      ),
    );
    const result = await verifyAuditChain(db, { pageSize: 7 });
    expect(result).toMatchObject({ ok: true, checked: 23 });
  });

  it("lists newest first with a cursor that walks every event exactly once", async () => {
    const seen: string[] = [];
    let cursor: { occurredAt: Date; seq: bigint } | undefined;
    for (;;) {
      const page = await listAuditEvents(db, {}, { limit: 5, cursor });
      seen.push(...page.items.map((i) => i.id));
      const times = page.items.map((i) => i.occurredAt.getTime());
      expect([...times].sort((a, b) => b - a)).toEqual(times);
      if (!page.nextCursor) break;
      const { decodeAuditCursor } = await import("./audit-events.ts");
      cursor = decodeAuditCursor(page.nextCursor) ?? undefined;
    }
    expect(new Set(seen).size).toBe(23);
    expect(seen).toHaveLength(23);
  });

  it("filters by text, case-insensitively", async () => {
    const page = await listAuditEvents(db, { text: "SELECT 10" }, { limit: 50 });
    expect(page.items.map((i) => i.statement).sort()).toEqual([
      "select 100",
      "select 101",
      "select 102",
      "select 103",
      "select 104",
      "select 105",
      "select 106",
      "select 107",
      "select 108",
      "select 109",
    ]);
  });

  it("detects a stored event modified behind its back, and names the first broken link", async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query<{ seq: string }>(
      "select seq::text from audit_events order by seq limit 1 offset 5",
    );
    await client.query("update audit_events set statement = 'select innocent' where seq = $1", [
      rows[0]!.seq,
    ]);
    const result = await verifyAuditChain(db);
    expect(result.ok).toBe(false);
    expect(result.firstBroken?.seq).toBe(rows[0]!.seq);
    expect(result.firstBroken?.reason).toMatch(/modified/);
    await client.end();
  });

  it("detects a deleted event", async () => {
    const fresh = await createTestDatabase();
    const other = createDb(fresh.url, { poolMax: 1 });
    await appendAuditEvents(other, [make("a"), make("b"), make("c")]);
    const client = new pg.Client({ connectionString: fresh.url });
    await client.connect();
    await client.query("delete from audit_events where statement = 'b'");
    const result = await verifyAuditChain(other);
    expect(result.ok).toBe(false);
    expect(result.firstBroken?.reason).toMatch(/removed or reordered/);
    await client.end();
    await other.$disconnect();
    await fresh.drop();
  });

  it("detects, against an anchor kept from an earlier verification, newest events cut off or a chain re-hashed", async () => {
    const fresh = await createTestDatabase();
    const other = createDb(fresh.url, { poolMax: 1 });
    const client = new pg.Client({ connectionString: fresh.url });
    await client.connect();
    await appendAuditEvents(other, [make("a"), make("b"), make("c")]);
    const { head } = await verifyAuditChain(other);
    await appendAuditEvents(other, [make("d")]);
    expect(await verifyAuditChain(other, { anchors: [head!] })).toMatchObject({ ok: true, checked: 4 });

    // Someone with write access rewrites "b" and re-hashes everything after it: the chain alone holds.
    const rows = await other.auditEvent.findMany({ orderBy: { seq: "asc" } });
    let prevHash = rows[0]!.hash;
    for (const row of rows.slice(1)) {
      const changed = { ...row, statement: row.statement === "b" ? "b, innocent" : row.statement, prevHash };
      const hash = chainHash(prevHash, changed);
      await client.query("update audit_events set statement = $1, prev_hash = $2, hash = $3 where id = $4", [
        changed.statement,
        prevHash,
        hash,
        row.id,
      ]);
      prevHash = hash;
    }
    expect(await verifyAuditChain(other)).toMatchObject({ ok: true });
    expect(await verifyAuditChain(other, { anchors: [head!] })).toMatchObject({
      ok: false,
      firstBroken: { seq: head!.seq, reason: expect.stringMatching(/rewritten since/) },
    });

    // Or cuts off the newest events: the chain alone holds, the anchor does not.
    await client.query("delete from audit_events where seq >= $1", [head!.seq]);
    expect(await verifyAuditChain(other)).toMatchObject({ ok: true, checked: 2 });
    expect(await verifyAuditChain(other, { anchors: [head!] })).toMatchObject({
      ok: false,
      firstBroken: { seq: head!.seq, reason: expect.stringMatching(/no longer in the chain/) },
    });
    await client.end();
    await other.$disconnect();
    await fresh.drop();
  });

  it("stores every field exactly as hashed, whether appended directly or inside a Prisma transaction", async () => {
    const fresh = await createTestDatabase();
    const other = createDb(fresh.url, { poolMax: 2 });
    const odd = newAuditEvent({
      statement: "select 'it''s', E'\\n', \"Ünïcödé\", '𝄞' -- \"quoted\"\n\tnext line",
      message: 'back\\slash and "quotes"',
      tables: ['public."odd,table"', "a{b}"],
      columns: ["public.t.c", 'x"y'],
      maskedColumns: ["public.t.c"],
      rowCount: null,
      durationMs: 0.123456789,
      occurredAt: new Date("2026-11-30T12:34:56.789Z"),
      details: { z: 1, a: { nested: [1, "two", null] } },
    });
    const first = make("first");
    const direct = await appendAuditEvents(other, [odd, first, first]);
    // The same id twice in one batch is stored once.
    expect(direct.inserted).toHaveLength(2);
    expect(direct.duplicates).toHaveLength(1);
    await other.$transaction((tx) => appendAuditEventsIn(tx, [make("inside a change")]));
    await appendAuditEvents(other, [make("after")]);

    expect(await verifyAuditChain(other)).toMatchObject({ ok: true, checked: 4 });
    const stored = await other.auditEvent.findUniqueOrThrow({
      where: { id: odd.id },
      select: auditEventSelect,
    });
    const { agentId: _agentId, ...expected } = odd;
    expect(stored).toMatchObject(expected);
    expect((await listAuditEvents(other, {}, { limit: 10 })).items.map((i) => i.statement)).toEqual([
      "after",
      "inside a change",
      "first",
      odd.statement,
    ]);
    await other.$disconnect();
    await fresh.drop();
  });
});

// Last: the other tests count the events stored (and break the chain on purpose).
describe("audit events from outside the control plane", () => {
  it("stores a batch Postgres refuses one value of event by event, refusing only that event", async () => {
    // Postgres refuses NUL and a lone surrogate in text: either fails a batch's insert whole.
    const before = make("SELECT 'before'");
    const nul = make("SELECT 'a\u0000b'");
    const halfEmoji = make(`SELECT '${"😀".slice(0, 1)}'`);
    const after = make("SELECT 'after'");
    const batch = [before, nul, halfEmoji, after];
    await expect(appendAuditEvents(db, batch)).rejects.toThrow();
    const result = await appendAuditEventsOrRefuse(db, batch);
    expect(result).toEqual({
      inserted: [before.id, after.id],
      duplicates: [],
      refused: [nul.id, halfEmoji.id],
    });
    expect(await db.auditEvent.count({ where: { id: { in: batch.map((e) => e.id) } } })).toBe(2);
    // Redelivered, the stored ones are duplicates and the others refused again; a good batch is one insert.
    expect(await appendAuditEventsOrRefuse(db, batch)).toEqual({
      inserted: [],
      duplicates: [before.id, after.id],
      refused: [nul.id, halfEmoji.id],
    });
    const next = make("SELECT 'next'");
    expect(await appendAuditEventsOrRefuse(db, [next])).toEqual({
      inserted: [next.id],
      duplicates: [],
      refused: [],
    });
  });
});
