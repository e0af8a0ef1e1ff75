// Live sessions and ending one, against a real store: which sessions are live (as online agents' heartbeats
// list them), and an ended session reaching its agent's snapshot.
import { randomUUID } from "node:crypto";
import {
  buildPolicySnapshot,
  createDb,
  deriveSecretKey,
  getPolicyRevision,
  listAuditEvents,
  recordAgentHeartbeat,
  type TDb,
} from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCaller, refusal, seedApiTestStore, TEST_TOKENS } from "../test-support.ts";
import { sessionsRest } from "./rest.ts";

const secretKey = deriveSecretKey("sessions-test-secret");
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let connectionId: string;
let agentId: string;

const admin = () => apiCaller(db, TEST_TOKENS.admin, secretKey);

/** A session as the agent's heartbeat lists it. */
function open(options: { startedAt: Date; actor?: string; connection?: { id: string; name: string } }) {
  return {
    sessionId: randomUUID(),
    identityName: options.actor ?? "dev@demo.local",
    identityKind: "human",
    connectionId: options.connection?.id ?? connectionId,
    connectionName: options.connection?.name ?? "demo",
    environment: "production",
    clientAddr: "127.0.0.1",
    applicationName: "psql",
    startedAt: options.startedAt.toISOString(),
  };
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 2 });
  ({ agentId, connectionId } = await seedApiTestStore(db, { guardrails: [], maskingRules: [] }));
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("live sessions", () => {
  it("lists what online agents report, and ending one reaches the agent's snapshot once", async () => {
    const busy = open({ startedAt: new Date(Date.now() - 20_000) });
    const idle = open({ startedAt: new Date(Date.now() - 10_000), actor: "copilot@demo.local" });

    // Listed by an agent that has not heartbeated since: not live.
    await recordAgentHeartbeat(db, agentId, { liveSessions: [busy, idle] }, new Date(Date.now() - 120_000));
    expect(await admin().sessions.live()).toEqual([]);
    await recordAgentHeartbeat(db, agentId, {});
    const live = await admin().sessions.live();
    expect(live.map((s) => s.sessionId)).toEqual([idle.sessionId, busy.sessionId]);
    expect(live[1]).toEqual({
      sessionId: busy.sessionId,
      startedAt: busy.startedAt,
      identity: { name: "dev@demo.local", kind: "human" },
      connection: { id: connectionId, name: "demo", environment: "production" },
      agentId,
      clientAddr: "127.0.0.1",
      applicationName: "psql",
    });

    const revision = await getPolicyRevision(db);
    const ended = await admin().sessions.end({
      sessionId: busy.sessionId.toUpperCase(),
      reason: "runaway export",
    });
    expect(ended.sessionId).toBe(busy.sessionId);
    expect(await getPolicyRevision(db)).toBe(revision + 1);
    expect((await buildPolicySnapshot(db, agentId, { secretKey })).endedSessions).toEqual([busy.sessionId]);
    // Off the list at once, before the agent's next heartbeat; asking again changes nothing.
    expect((await admin().sessions.live()).map((s) => s.sessionId)).toEqual([idle.sessionId]);
    await admin().sessions.end({ sessionId: busy.sessionId });
    const events = await listAuditEvents(db, { text: "runaway export" }, { limit: 5 });
    expect(events.items.map((e) => [e.type, e.actorName, e.message, e.sessionId])).toEqual([
      [
        "admin_change",
        "admin@demo.local",
        "ended dev@demo.local's session on demo (psql from 127.0.0.1): runaway export",
        busy.sessionId,
      ],
    ]);

    // The agent closed it and no longer lists it: it cannot be ended again.
    await recordAgentHeartbeat(db, agentId, { liveSessions: [idle] });
    expect((await refusal(admin().sessions.end({ sessionId: busy.sessionId }))).code).toBe("NOT_FOUND");
    expect((await refusal(admin().sessions.end({ sessionId: randomUUID() }))).code).toBe("NOT_FOUND");
    await recordAgentHeartbeat(db, agentId, { liveSessions: [] });
    expect(await admin().sessions.live()).toEqual([]);

    // A day on, the record has done its work: the next end prunes it, and the snapshot no longer names it.
    await db.$executeRaw`UPDATE session_terminations SET created_at = now() - interval '2 days'`;
    const later = open({ startedAt: new Date() });
    await recordAgentHeartbeat(db, agentId, { liveSessions: [later] });
    await admin().sessions.end({ sessionId: later.sessionId });
    expect(await db.sessionTermination.count({ where: { sessionId: busy.sessionId } })).toBe(0);
    expect((await buildPolicySnapshot(db, agentId, { secretKey })).endedSessions).toEqual([later.sessionId]);
  });

  it("keeps members out, and tokens scoped to other connections to their own", async () => {
    const other = await db.connection.create({
      data: {
        name: "analytics",
        environment: "staging",
        agentId,
        host: "h",
        port: 5432,
        database: "a",
        username: "u",
      },
      select: { id: true, name: true },
    });
    const here = open({ startedAt: new Date() });
    const there = open({ startedAt: new Date(), connection: other });
    await recordAgentHeartbeat(db, agentId, { liveSessions: [here, there] });
    expect((await refusal(apiCaller(db, TEST_TOKENS.developer).sessions.live())).code).toBe("FORBIDDEN");
    const me = (await admin().identities.list()).find((i) => i.name === "admin@demo.local")!;
    const scoped = await admin().identities.createToken({
      identityId: me.id,
      name: "scoped",
      connectionIds: [connectionId],
    });
    const get = (token: string) =>
      sessionsRest.live(
        db,
        new Request("http://x/api/v1/sessions", { headers: { authorization: `Bearer ${token}` } }),
      );
    const post = (token: string, id: string) =>
      sessionsRest.end(
        db,
        new Request(`http://x/api/v1/sessions/${id}/end`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
        }),
        id,
      );
    expect((await get(scoped.token)).items.map((s) => s.sessionId)).toEqual([here.sessionId]);
    await expect(post(TEST_TOKENS.developer, here.sessionId)).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(post(scoped.token, "not-a-uuid")).rejects.toMatchObject({ code: "BAD_REQUEST" });
    // Another connection's session is as unknown to the scoped token as one that does not exist.
    await expect(post(scoped.token, there.sessionId)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await post(scoped.token, here.sessionId)).sessionId).toBe(here.sessionId);
  });
});
