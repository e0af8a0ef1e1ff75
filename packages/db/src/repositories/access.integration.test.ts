// Password sign-in against a real store: the outcome, and that its cost does not tell accounts apart.
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type TDb } from "../client.ts";
import { hashPassword } from "../secrets.ts";
import { createTestDatabase } from "../test-support.ts";
import { authenticatePassword } from "./access.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;

const PASSWORD = "correct horse battery staple";

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 2 });
  const passwordHash = await hashPassword(PASSWORD);
  await db.identity.createMany({
    data: [
      { name: "ada@corp.example", displayName: "Ada", kind: "human", roles: ["member"], passwordHash },
      { name: "sso-only@corp.example", displayName: "Sso", kind: "human", roles: ["member"] },
      {
        name: "gone@corp.example",
        displayName: "Gone",
        kind: "human",
        roles: ["member"],
        passwordHash,
        disabledAt: new Date(),
      },
    ],
  });
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

/** Median wall time of a sign-in attempt, in ms. */
async function medianMs(name: string, password: string, runs = 5): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await authenticatePassword(db, name, password);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(runs / 2)]!;
}

describe("authenticatePassword", () => {
  it("signs in with the right password only, and never a disabled or password-less account", async () => {
    expect(await authenticatePassword(db, "ada@corp.example", PASSWORD)).toMatchObject({
      name: "ada@corp.example",
    });
    expect(await authenticatePassword(db, "ada@corp.example", "wrong")).toBeNull();
    expect(await authenticatePassword(db, "nobody@corp.example", PASSWORD)).toBeNull();
    expect(await authenticatePassword(db, "sso-only@corp.example", PASSWORD)).toBeNull();
    expect(await authenticatePassword(db, "gone@corp.example", PASSWORD)).toBeNull();
  });

  it("runs a full scrypt verification for unknown, password-less and disabled accounts too", async () => {
    await medianMs("ada@corp.example", "wrong", 1); // warm up the connection and the query
    const real = await medianMs("ada@corp.example", "wrong");
    // A store lookup alone takes a few ms, a scrypt tens: an answer without scrypt falls far below half.
    for (const name of ["nobody@corp.example", "sso-only@corp.example", "gone@corp.example"])
      expect(await medianMs(name, "wrong"), name).toBeGreaterThan(real * 0.5);
  });
});
