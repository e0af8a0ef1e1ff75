// The activity overview's numbers, from events at known times in a real store.
import { randomUUID } from "node:crypto";
import { appendAuditEvents, createDb, type TDb } from "@portcullis/db";
import { createTestDatabase, newAuditEvent as event } from "@portcullis/db/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditService } from "./service.ts";

const now = new Date("2026-03-02T12:30:00Z");
const at = (iso: string) => new Date(iso);
const demo = randomUUID();
const other = randomUUID();
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 2 });
  const onDemo = { connectionId: demo, connectionName: "demo", sessionId: randomUUID() };
  await appendAuditEvents(db, [
    event({ ...onDemo, occurredAt: at("2026-02-28T09:00:00Z"), tables: ["public.orders"] }), // 2 days before
    event({
      ...onDemo,
      occurredAt: at("2026-03-02T10:15:00Z"),
      actorName: "copilot@demo.local",
      actorKind: "ai_agent",
      decision: "blocked",
      statementClass: "ddl",
      tables: ["public.customers"],
    }),
    // A write held for approval, as the control plane and the agent record it: the request, then the
    // statement once approved.
    event({
      ...onDemo,
      occurredAt: at("2026-03-02T11:05:00Z"),
      type: "approval",
      decision: "pending_approval",
      statementClass: "write",
      tables: ["public.orders"],
    }),
    event({
      ...onDemo,
      occurredAt: at("2026-03-02T11:07:00Z"),
      decision: "approved",
      statementClass: "write",
      tables: ["public.orders"],
    }),
    event({ ...onDemo, occurredAt: at("2026-03-02T12:01:00Z"), tables: ["public.orders"] }),
    event({ ...onDemo, occurredAt: at("2026-03-02T12:02:00Z"), tables: ["public.orders"] }),
    event({
      ...onDemo,
      occurredAt: at("2026-03-02T12:03:00Z"),
      decision: "masked",
      tables: ["public.customers"],
      maskedColumns: ["customers.email"],
    }),
    event({ ...onDemo, occurredAt: at("2026-03-02T12:04:00Z"), type: "admin_change", statement: null }), // not a statement
    event({
      connectionId: other,
      sessionId: randomUUID(),
      connectionName: "billing",
      occurredAt: at("2026-03-02T12:05:00Z"),
      tables: ["public.invoices"],
    }),
  ]);
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("audit activity", () => {
  it("counts the last day's statements per hour and decision, with who ran them and what they touched", async () => {
    const day = await auditService.activity(db, { range: "24h" }, { connectionIds: [] }, now);
    expect(day).toMatchObject({
      from: "2026-03-01T13:00:00.000Z",
      to: "2026-03-02T13:00:00.000Z",
      bucketSeconds: 3600,
    });
    expect(day.buckets).toHaveLength(24);
    const bucket = (hour: string) => day.buckets.find((b) => b.start === `2026-03-02T${hour}:00:00.000Z`);
    expect(bucket("12")).toEqual({
      start: "2026-03-02T12:00:00.000Z",
      allowed: 3,
      masked: 1,
      refused: 0,
      held: 0,
      error: 0,
    });
    expect(bucket("11")).toMatchObject({ held: 1, allowed: 1 });
    expect(bucket("10")).toMatchObject({ refused: 1 });
    expect(day.totals).toEqual({ statements: 6, refused: 1, masked: 1, held: 1, identities: 2, sessions: 2 });
    expect(day.actors).toEqual([
      { name: "dev@demo.local", kind: "human", statements: 5, refused: 0, masked: 1 },
      { name: "copilot@demo.local", kind: "ai_agent", statements: 1, refused: 1, masked: 0 },
    ]);
    expect(day.tables).toEqual([
      { name: "public.orders", statements: 3, writes: 1, masked: 0 },
      { name: "public.customers", statements: 2, writes: 0, masked: 1 },
      { name: "public.invoices", statements: 1, writes: 0, masked: 0 },
    ]);
  });

  it("widens to a week in six-hour buckets", async () => {
    const week = await auditService.activity(db, { range: "7d" }, { connectionIds: [] }, now);
    expect(week.buckets).toHaveLength(28);
    expect(week.totals.statements).toBe(7);
    expect(week.buckets.find((b) => b.start === "2026-02-28T06:00:00.000Z")).toMatchObject({ allowed: 1 });
  });

  it("shows a token scoped to connections only their activity", async () => {
    const scoped = await auditService.activity(db, { range: "24h" }, { connectionIds: [other] }, now);
    expect(scoped.totals.statements).toBe(1);
    expect(scoped.tables).toEqual([{ name: "public.invoices", statements: 1, writes: 0, masked: 0 }]);
  });

  it("refuses a range it does not offer", async () => {
    await expect(auditService.activity(db, { range: "1y" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});
