// The agents list and enrollment through the tRPC router, against a real store.
import { authenticateAgentBearer, createDb, recordAgentHeartbeat, type TDb } from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCaller, seedApiTestStore } from "../test-support.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let agentId: string;

const callerWith = (token: string) => apiCaller(db, token);

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 2 });
  ({ agentId } = await seedApiTestStore(db, {
    agentName: "edge-1",
    guardrails: [],
    maskingRules: [],
  }));
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("agents", () => {
  it("shows whether each agent is online, from its heartbeats, and what it serves", async () => {
    const agentOf = async () => (await callerWith("pcat_admin").agents.list()).find((a) => a.id === agentId)!;
    await recordAgentHeartbeat(
      db,
      agentId,
      { version: "0.1.0", hostname: "db-host" },
      new Date(Date.now() - 60_000),
    );
    expect(await agentOf()).toMatchObject({
      status: "offline",
      version: "0.1.0",
      hostname: "db-host",
      connections: [{ name: "demo", environment: "production" }],
    });
    await recordAgentHeartbeat(db, agentId, {});
    expect(await agentOf()).toMatchObject({ status: "online", startedAt: null });
    // A hello says when the agent's process started; heartbeats without it keep it.
    const started = new Date(Date.now() - 3_600_000);
    await recordAgentHeartbeat(db, agentId, { startedAt: started });
    await recordAgentHeartbeat(db, agentId, {});
    expect((await agentOf()).startedAt).toBe(started.toISOString());
  });

  it("issues a one-time enrollment token that a new agent exchanges for its credential", async () => {
    const issued = await callerWith("pcat_admin").agents.issueEnrollment({ name: "edge-2" });
    expect(issued.token).toMatch(/^pcen_/);
    const listed = (await callerWith("pcat_admin").agents.list()).find((a) => a.name === "edge-2")!;
    expect(listed).toMatchObject({ status: "never_connected", openEnrollments: 1 });
    const first = await authenticateAgentBearer(db, issued.token);
    expect(first?.agent.name).toBe("edge-2");
    expect(first?.issuedCredential).toMatch(/^pcag_/);
    expect(await authenticateAgentBearer(db, issued.token)).toBeNull(); // one time only
  });

  it("keeps enrollment to admins", async () => {
    await expect(callerWith("pcat_dev").agents.issueEnrollment({ name: "rogue" })).rejects.toSatisfy(
      (e) => e instanceof TRPCError && e.code === "FORBIDDEN",
    );
    await expect(callerWith("pcat_dev").agents.list()).rejects.toSatisfy(
      (e) => e instanceof TRPCError && e.code === "FORBIDDEN",
    );
  });
});
