// Live sessions and ending one, against a real store: which sessions are live (from the timeline and the
// agents' heartbeats), and an ended session reaching its agent's snapshot.
import { randomUUID } from "node:crypto";
import {
  appendAuditEvents,
  buildPolicySnapshot,
  createDb,
  deriveSecretKey,
  getPolicyRevision,
  listAuditEvents,
  recordAgentHeartbeat,
  type TDb,
} from "@portcullis/db";
import { createTestDatabase, newAuditEvent } from "@portcullis/db/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCaller, refusal, seedApiTestStore, TEST_TOKENS } from "../test-support.ts";
import { sessionsRest } from "./rest.ts";

const secretKey = deriveSecretKey("sessions-test-secret");
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let connectionId: string;
let agentId: string;

const admin = () => apiCaller(db, TEST_TOKENS.admin, secretKey);

/** A session through the agent: its session_start, some statements, and a session_end when it is over. */
async function session(options: { startedAt: Date; statements?: number; ended?: boolean; actor?: string }) {
  const sessionId = randomUUID();
  const on = {
    sessionId,
    agentId,
    connectionId,
    connectionName: "demo",
    actorName: options.actor ?? "dev@demo.local",
  };
  await appendAuditEvents(db, [
    newAuditEvent({ ...on, type: "session_start", occurredAt: options.startedAt, statement: null }),
    ...Array.from({ length: options.statements ?? 0 }, () => newAuditEvent({ ...on })),
    ...(options.ended ? [newAuditEvent({ ...on, type: "session_end", statement: null })] : []),
  ]);
  return sessionId;
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
  it("lists the sessions open on online agents, and ending one reaches the agent's snapshot once", async () => {
    const agentStarted = new Date(Date.now() - 60_000);
    const beforeRestart = await session({ startedAt: new Date(Date.now() - 120_000) });
    const over = await session({ startedAt: new Date(Date.now() - 30_000), statements: 2, ended: true });
    const busy = await session({ startedAt: new Date(Date.now() - 20_000), statements: 3 });
    const idle = await session({ startedAt: new Date(Date.now() - 10_000), actor: "copilot@demo.local" });

    // The agent has not heartbeated yet: nothing is live.
    expect(await admin().sessions.live()).toEqual([]);
    await recordAgentHeartbeat(db, agentId, { startedAt: agentStarted });
    const live = await admin().sessions.live();
    expect(live.map((s) => s.sessionId)).toEqual([idle, busy]);
    expect(live[1]).toMatchObject({
      identity: { name: "dev@demo.local", kind: "human" },
      connection: { id: connectionId, name: "demo", environment: "production" },
      applicationName: "psql",
      clientAddr: "127.0.0.1",
      statements: 3,
    });
    expect(live.map((s) => s.sessionId)).not.toContain(over);
    expect(live.map((s) => s.sessionId)).not.toContain(beforeRestart);

    const revision = await getPolicyRevision(db);
    const ended = await admin().sessions.end({ sessionId: busy.toUpperCase(), reason: "runaway export" });
    expect(ended.sessionId).toBe(busy);
    expect(await getPolicyRevision(db)).toBe(revision + 1);
    expect((await buildPolicySnapshot(db, agentId, { secretKey })).endedSessions).toEqual([busy]);
    await admin().sessions.end({ sessionId: busy }); // again, while the agent has not closed it yet
    const events = await listAuditEvents(db, { text: "runaway export" }, { limit: 5 });
    expect(events.items.map((e) => [e.type, e.actorName, e.message, e.sessionId])).toEqual([
      [
        "admin_change",
        "admin@demo.local",
        "ended dev@demo.local's session on demo (psql from 127.0.0.1): runaway export",
        busy,
      ],
    ]);

    // The agent closes it: its session_end takes it off the list, and it cannot be ended again.
    await appendAuditEvents(db, [
      newAuditEvent({ type: "session_end", sessionId: busy, agentId, connectionId, statement: null }),
    ]);
    expect((await admin().sessions.live()).map((s) => s.sessionId)).toEqual([idle]);
    expect((await refusal(admin().sessions.end({ sessionId: busy }))).code).toBe("NOT_FOUND");
    expect((await refusal(admin().sessions.end({ sessionId: randomUUID() }))).code).toBe("NOT_FOUND");

    // An agent that stops heartbeating takes its sessions with it.
    await recordAgentHeartbeat(db, agentId, {}, new Date(Date.now() - 120_000));
    expect(await admin().sessions.live()).toEqual([]);
    await recordAgentHeartbeat(db, agentId, {});
  });

  it("keeps members out, and tokens scoped to other connections to their own", async () => {
    const open = await session({ startedAt: new Date() });
    expect((await refusal(apiCaller(db, TEST_TOKENS.developer).sessions.live())).code).toBe("FORBIDDEN");
    const me = (await admin().identities.list()).find((i) => i.name === "admin@demo.local")!;
    const scoped = await admin().identities.createToken({
      identityId: me.id,
      name: "scoped",
      connectionIds: [connectionId],
    });
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
      select: { id: true },
    });
    const scopedElsewhere = await admin().identities.createToken({
      identityId: me.id,
      name: "elsewhere",
      connectionIds: [other.id],
    });
    const post = (token: string, id: string) =>
      new Request(`http://x/api/v1/sessions/${id}/end`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
    const listed = await sessionsRest.live(
      db,
      new Request("http://x/api/v1/sessions", { headers: { authorization: `Bearer ${scoped.token}` } }),
    );
    expect(listed.items.map((s) => s.sessionId)).toContain(open);
    const notListed = await sessionsRest.live(
      db,
      new Request("http://x/api/v1/sessions", {
        headers: { authorization: `Bearer ${scopedElsewhere.token}` },
      }),
    );
    expect(notListed.items).toEqual([]);
    await expect(sessionsRest.end(db, post(scopedElsewhere.token, open), open)).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(sessionsRest.end(db, post(TEST_TOKENS.developer, open), open)).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(sessionsRest.end(db, post(scoped.token, "not-a-uuid"), "not-a-uuid")).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    expect((await sessionsRest.end(db, post(scoped.token, open), open)).sessionId).toBe(open);
  });
});
