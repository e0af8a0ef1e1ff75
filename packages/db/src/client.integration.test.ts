// The client's transactions against a real Postgres: a select with several relations inside a transaction
// must not hand pg's client concurrent queries (a deprecation in pg 8, an error from pg 9).
import { afterAll, beforeAll, expect, it } from "vitest";
import { createDb, type TDb } from "./client.ts";
import { createTestDatabase } from "./test-support.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 2 });
});

afterAll(async () => {
  await db.$disconnect();
  await database.drop();
});

it("reads a row's relations inside a transaction one query at a time, with the same answer as outside", async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on("warning", onWarning);
  try {
    const identity = await db.identity.create({
      data: { name: "ada@example.test", displayName: "Ada", kind: "human" },
      select: { id: true },
    });
    await db.group.create({
      data: { name: "dba", members: { create: { identityId: identity.id } } },
      select: { id: true },
    });
    await db.apiToken.create({
      data: { identityId: identity.id, name: "ci", tokenHash: "x".repeat(64), prefix: "pc_test" },
      select: { id: true },
    });
    const select = {
      name: true,
      memberships: { select: { group: { select: { name: true } } } },
      apiTokens: { select: { name: true } },
      grants: { select: { id: true } },
    } as const;
    const inside = await db.$transaction(async (tx) => {
      const [first, second] = [
        tx.identity.findUniqueOrThrow({ where: { id: identity.id }, select }),
        tx.identity.findUniqueOrThrow({ where: { id: identity.id }, select }),
      ];
      return [await first, await second];
    });
    const outside = await db.identity.findUniqueOrThrow({ where: { id: identity.id }, select });
    expect(inside).toEqual([outside, outside]);
    expect(outside).toEqual({
      name: "ada@example.test",
      memberships: [{ group: { name: "dba" } }],
      apiTokens: [{ name: "ci" }],
      grants: [],
    });
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => w.includes("already executing a query"))).toEqual([]);
  } finally {
    process.off("warning", onWarning);
  }
});
