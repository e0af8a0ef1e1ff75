import { appendAuditEvents, createDb, type TDb } from "@portcullis/db";
import { createTestDatabase, newAuditEvent as event } from "@portcullis/db/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppError } from "../errors.ts";
import { auditService } from "./service.ts";

describe("auditService against Postgres", () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: TDb;
  const base = Date.parse("2026-03-01T10:00:00Z");

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = createDb(testDb.url, { poolMax: 2 });
    // 12 events a second apart, plus two sharing one timestamp so the cursor must break ties by seq.
    const events = Array.from({ length: 12 }, (_, i) =>
      event({ occurredAt: new Date(base + i * 1000), statement: `select ${i} from orders` }),
    );
    events.push(
      event({
        occurredAt: new Date(base + 20_000),
        statement: "select count(*) from customers",
        tables: ["public.customers"],
      }),
      event({
        occurredAt: new Date(base + 20_000),
        actorName: "copilot@demo.local",
        actorKind: "ai_agent",
        statement: "DROP TABLE customers",
        decision: "blocked",
        ruleName: "block-destructive-ddl",
        message: "Destructive DDL is blocked",
      }),
    );
    await appendAuditEvents(db, events);
  });

  afterAll(async () => {
    await db?.$disconnect();
    await testDb?.drop();
  });

  it("lists newest first, ties broken by arrival order", async () => {
    const page = await auditService.list(db, { limit: 3 });
    expect(page.items.map((e) => e.statement)).toEqual([
      "DROP TABLE customers",
      "select count(*) from customers",
      "select 11 from orders",
    ]);
    expect(page.items[0]).toMatchObject({
      decision: "blocked",
      actorKind: "ai_agent",
      occurredAt: "2026-03-01T10:00:20.000Z",
    });
    expect(typeof page.items[0]?.seq).toBe("string");
  });

  it("filters by text, case-insensitively, across statement, actor and message", async () => {
    const byStatement = await auditService.list(db, { filter: { text: "CUSTOMERS" } });
    expect(byStatement.items.map((e) => e.statement).sort()).toEqual([
      "DROP TABLE customers",
      "select count(*) from customers",
    ]);
    const byMessage = await auditService.list(db, { filter: { text: "destructive" } });
    expect(byMessage.items).toHaveLength(1);
    const none = await auditService.list(db, { filter: { text: "no such thing" } });
    expect(none).toEqual({ items: [], nextCursor: null });
  });

  it("filters by decision, actor kind, table and time range", async () => {
    expect((await auditService.list(db, { filter: { decision: "blocked" } })).items).toHaveLength(1);
    expect((await auditService.list(db, { filter: { actorKind: "ai_agent" } })).items).toHaveLength(1);
    expect((await auditService.list(db, { filter: { table: "public.customers" } })).items).toHaveLength(1);
    const range = await auditService.list(db, {
      filter: { from: "2026-03-01T10:00:02Z", to: "2026-03-01T10:00:05Z" },
    });
    expect(range.items.map((e) => e.statement)).toEqual([
      "select 4 from orders",
      "select 3 from orders",
      "select 2 from orders",
    ]);
  });

  it("walks every event exactly once with the cursor", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await auditService.list(db, { limit: 5, cursor });
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(14);
    expect(new Set(seen).size).toBe(14);
    const all = await auditService.list(db, { limit: 500 });
    expect(seen).toEqual(all.items.map((e) => e.id));
  });

  it("rejects a forged cursor as a bad request", async () => {
    await expect(auditService.list(db, { cursor: "not-a-cursor" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    } satisfies Partial<AppError>);
  });

  it("verifies the hash chain it was seeded with", async () => {
    const verified = await auditService.verifyChain(db);
    expect(verified).toEqual({
      ok: true,
      checked: 14,
      firstBroken: null,
      head: { seq: expect.stringMatching(/^\d+$/), hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    // Its head, given back as an anchor, holds; a malformed anchor is a clear 400.
    expect(await auditService.verifyChain(db, undefined, { anchors: [verified.head!] })).toMatchObject({
      ok: true,
    });
    await expect(
      auditService.verifyChain(db, undefined, { anchors: [{ seq: "x", hash: "y" }] }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});
