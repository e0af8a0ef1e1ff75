// The agent link end to end: the real gateway on a real HTTP server, a real migrated database, and the
// real agent-side link and spool. Nothing of ours is mocked.
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { wireAuditEvent } from "@portcullis/agent/src/link/test-events.ts";
import { probeDatabase } from "@portcullis/agent/src/probe.ts";
import { AuditSpool } from "@portcullis/agent/src/spool/audit-spool.ts";
import {
  ControlPlaneLink,
  type TControlPlaneLinkOptions,
} from "@portcullis/agent/src/link/control-plane-link.ts";
import {
  AGENT_LINK_PATH,
  encodeMessage,
  parseControlMessage,
  PROTOCOL_VERSION,
  type TControlMessage,
  type TPolicySnapshot,
} from "@portcullis/agent-protocol";
import {
  bumpPolicyRevision,
  createApproval,
  createDb,
  decideApproval,
  encryptSecret,
  issueEnrollmentToken,
  listLiveSessions,
  publishSignal,
  verifyAuditChain,
  type TDb,
} from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { attachAgentGateway, type TAgentGateway, type TAgentGatewayOptions } from "./gateway.ts";

const logger = pino({ level: process.env.LOG_LEVEL ?? "silent" });
const secretKey = randomBytes(32);

async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("agent link (gateway + ControlPlaneLink + AuditSpool)", () => {
  let database: { url: string; drop(): Promise<void> };
  let db: TDb;
  let server: Server;
  let gateway: TAgentGateway;
  let port = 0;
  let workDir: string;
  let agentId: string;
  let enrollmentToken: string;
  let connectionId: string;
  const sentIds: string[] = [];

  async function startControlPlane(extra: Partial<TAgentGatewayOptions> = {}): Promise<void> {
    server = createServer((_req, res) => res.writeHead(404).end());
    gateway = attachAgentGateway(server, { db, secretKey, logger, policyPollMs: 100, ...extra });
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  }

  async function stopControlPlane(): Promise<void> {
    await gateway.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  function linkOptions(
    spool: AuditSpool,
    extra: Partial<TControlPlaneLinkOptions> = {},
  ): TControlPlaneLinkOptions {
    return {
      url: `ws://127.0.0.1:${port}`,
      enrollmentToken,
      credentialFile: join(workDir, "credential.json"),
      policyCacheFile: join(workDir, "policy-cache.json"),
      agentVersion: "0.1.0-test",
      hostname: "test-host",
      logger,
      spool,
      backoffInitialMs: 50,
      backoffMaxMs: 300,
      authRetryMs: 500,
      ...extra,
    };
  }

  async function storedIdCounts(ids: string[]): Promise<Map<string, number>> {
    const rows = await db.auditEvent.groupBy({
      by: ["id"],
      where: { id: { in: ids } },
      _count: { _all: true },
    });
    return new Map(rows.map((r) => [r.id, r._count._all]));
  }

  /** Raw upgrade attempt; resolves with the HTTP status the server answered (101 when accepted). */
  function rawUpgrade(authorization?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request({
        host: "127.0.0.1",
        port,
        path: AGENT_LINK_PATH,
        headers: {
          Connection: "Upgrade",
          Upgrade: "websocket",
          "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
          ...(authorization ? { Authorization: authorization } : {}),
        },
      });
      req.on("upgrade", (res, socket) => {
        socket.destroy();
        resolve(res.statusCode ?? 0);
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
  }

  /** A raw ws client speaking the protocol by hand, for cases the real link never produces. */
  async function rawClient(bearer: string): Promise<{ ws: WebSocket; messages: TControlMessage[] }> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${AGENT_LINK_PATH}`, {
      headers: { Authorization: `Bearer ${bearer}` },
    });
    const messages: TControlMessage[] = [];
    ws.on("message", (data) => {
      const message = parseControlMessage(data.toString());
      if (!("error" in message)) messages.push(message);
    });
    await once(ws, "open");
    return { ws, messages };
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDb(database.url, { poolMax: 4 });
    workDir = await mkdtemp(join(tmpdir(), "pc-link-"));
    const issued = await issueEnrollmentToken(db, "edge-agent-1");
    agentId = issued.agent.id;
    enrollmentToken = issued.token;
    const connection = await db.connection.create({
      data: {
        name: "demo",
        environment: "production",
        agentId,
        host: "127.0.0.1",
        port: 5432,
        database: "demo",
        username: "app",
        secretCiphertext: encryptSecret("upstream-password", secretKey),
      },
    });
    connectionId = connection.id;
    await startControlPlane();
  });

  afterAll(async () => {
    await stopControlPlane().catch(() => {});
    await db?.$disconnect();
    await database?.drop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it("refuses a missing or unknown bearer with 401 and no upgrade", async () => {
    expect(await rawUpgrade()).toBe(401);
    expect(await rawUpgrade("Bearer pcen_not-a-real-token")).toBe(401);
    expect(await rawUpgrade("Bearer pcag_not-a-real-credential")).toBe(401);
    expect(gateway.connectedAgents()).toEqual([]);
  });

  it("enrolls with a token, persists the credential (0600), and receives the policy", async () => {
    const spool = await AuditSpool.open(join(workDir, "spool"));
    const link = new ControlPlaneLink(linkOptions(spool));
    const policies: TPolicySnapshot[] = [];
    link.on("policy", (s) => policies.push(s));
    link.start();
    await waitFor("first policy", () => policies.length > 0);
    expect(link.connected).toBe(true);

    const stored = JSON.parse(await readFile(join(workDir, "credential.json"), "utf8"));
    expect(stored.agentId).toBe(agentId);
    expect(stored.credential).toMatch(/^pcag_/);
    expect((await stat(join(workDir, "credential.json"))).mode & 0o777).toBe(0o600);
    expect(gateway.connectedAgents().map((a) => a.agentName)).toEqual(["edge-agent-1"]);

    const snapshot = policies.at(-1)!;
    expect(snapshot.connections).toHaveLength(1);
    expect(snapshot.connections[0]).toMatchObject({ id: connectionId, environment: "production" });
    expect(snapshot.connections[0]!.upstream.password).toBe("upstream-password");

    // A policy change reaches the agent within about 2 s.
    await db.connection.update({ where: { id: connectionId }, data: { environment: "staging" } });
    const changedAt = Date.now();
    const revision = await bumpPolicyRevision(db);
    await waitFor("new policy revision", () => policies.at(-1)!.revision === revision, 2000);
    expect(Date.now() - changedAt).toBeLessThan(2000);
    expect(policies.at(-1)!.connections[0]!.environment).toBe("staging");
    await waitFor("policy cache", async () => {
      const cache = JSON.parse(await readFile(join(workDir, "policy-cache.json"), "utf8").catch(() => "{}"));
      return cache.snapshot?.revision === revision;
    });

    // Events appended to the spool land in audit_events exactly once.
    const events = Array.from({ length: 450 }, (_, i) => wireAuditEvent(`SELECT ${i}`));
    for (const e of events) spool.append(e);
    sentIds.push(...events.map((e) => e.id));
    await waitFor("spool drained", () => spool.size === 0);
    const counts = await storedIdCounts(sentIds);
    expect(counts.size).toBe(450);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const row = await db.auditEvent.findUniqueOrThrow({ where: { id: events[0]!.id } });
    expect(row.agentId).toBe(agentId);

    await link.stop();
    expect(link.connected).toBe(false);
    await spool.close();
  });

  it("reconnects with the stored credential; the consumed enrollment token is refused", async () => {
    expect(await rawUpgrade(`Bearer ${enrollmentToken}`)).toBe(401);

    const spool = await AuditSpool.open(join(workDir, "spool"));
    const link = new ControlPlaneLink(linkOptions(spool));
    const policies: TPolicySnapshot[] = [];
    link.on("policy", (s) => policies.push(s));
    link.start();
    // The cached policy is emitted at once, before any network round trip.
    expect(policies).toHaveLength(1);
    expect(policies[0]!.connections[0]!.environment).toBe("staging");
    await waitFor("connected via credential", () => link.connected && policies.length >= 2);
    expect(gateway.connectedAgents()).toHaveLength(1);
    await link.stop();
    await spool.close();
  });

  it("delivers every event exactly once across a control-plane outage, in-flight batches included", async () => {
    const spool = await AuditSpool.open(join(workDir, "spool"));
    const link = new ControlPlaneLink(linkOptions(spool));
    link.start();
    await waitFor("connected", () => link.connected);

    // Some of these are in flight (or stored with the ack lost) when the control plane goes away.
    const burst = Array.from({ length: 500 }, (_, i) => wireAuditEvent(`UPDATE t SET x = ${i}`));
    for (const e of burst) spool.append(e);
    sentIds.push(...burst.map((e) => e.id));
    await new Promise((r) => setImmediate(r));
    await stopControlPlane();
    await waitFor("disconnected", () => !link.connected);

    const during = Array.from({ length: 300 }, (_, i) => wireAuditEvent(`SELECT ${i} FROM during_outage`));
    for (const e of during) spool.append(e);
    sentIds.push(...during.map((e) => e.id));
    await new Promise((r) => setTimeout(r, 500)); // a few refused reconnect attempts
    expect(spool.size).toBeGreaterThanOrEqual(300);

    await startControlPlane(); // same port
    await waitFor("spool drained after restart", () => link.connected && spool.size === 0, 15_000);
    const counts = await storedIdCounts(sentIds);
    expect(counts.size).toBe(sentIds.length);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(await db.auditEvent.count()).toBe(sentIds.length);
    expect((await verifyAuditChain(db)).ok).toBe(true);

    await link.stop();
    await spool.close();
  });

  it("does not resend acknowledged events after an agent restart", async () => {
    const spool = await AuditSpool.open(join(workDir, "spool"));
    expect(spool.size).toBe(0);
    const link = new ControlPlaneLink(linkOptions(spool));
    link.start();
    await waitFor("connected", () => link.connected);
    const late = Array.from({ length: 10 }, (_, i) => wireAuditEvent(`SELECT ${i} AS after_restart`));
    // A count beyond a Postgres integer (a bulk COPY) must not fail its batch's insert.
    late.push({ ...wireAuditEvent("COPY big_table TO STDOUT"), rowCount: 5_000_000_000 });
    for (const e of late) spool.append(e);
    sentIds.push(...late.map((e) => e.id));
    await waitFor("spool drained", () => spool.size === 0);
    expect(await db.auditEvent.count()).toBe(sentIds.length);
    expect(
      await db.auditEvent.findUniqueOrThrow({
        where: { id: late.at(-1)!.id },
        select: { rowCount: true, details: true },
      }),
    ).toEqual({ rowCount: 2_147_483_647, details: { rowCount: 5_000_000_000 } });
    await link.stop();
    await spool.close();
  });

  it("delivers a backlog bigger than the spool's memory window in order, across an agent restart", async () => {
    await stopControlPlane();
    // About 40 events fit in memory; the rest wait on disk only.
    const window = { memoryBytes: 16 * 1024 };
    const backlog = Array.from({ length: 1000 }, (_, i) => wireAuditEvent(`SELECT ${i} FROM backlog`));
    let spool = await AuditSpool.open(join(workDir, "spool"), window);
    for (const e of backlog.slice(0, 600)) spool.append(e);
    expect(spool.memoryBytes).toBeLessThanOrEqual(window.memoryBytes);
    await spool.close();

    spool = await AuditSpool.open(join(workDir, "spool"), window);
    expect(spool.size).toBe(600);
    expect(spool.memoryBytes).toBeLessThanOrEqual(window.memoryBytes);
    const link = new ControlPlaneLink(linkOptions(spool));
    link.start();
    for (const e of backlog.slice(600)) spool.append(e);
    sentIds.push(...backlog.map((e) => e.id));
    await startControlPlane();
    await waitFor("backlog drained", () => link.connected && spool.size === 0, 15_000);

    const stored = await db.auditEvent.findMany({
      where: { id: { in: backlog.map((e) => e.id) } },
      orderBy: { seq: "asc" },
      select: { id: true },
    });
    expect(stored.map((r) => r.id)).toEqual(backlog.map((e) => e.id));
    expect((await verifyAuditChain(db)).ok).toBe(true);
    await link.stop();
    await spool.close();
  });

  it("sends a trickle of events behind an unacknowledged frame, and what follows within the linger, as one frame", async () => {
    // The store is slow: a transaction holds the audit table, so the first frame is not acked.
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = db.$transaction(
      async (tx) => {
        await tx.$executeRaw`LOCK TABLE audit_events IN EXCLUSIVE MODE`;
        locked();
        await released;
      },
      { timeout: 20_000 },
    );
    await isLocked;
    const frames: number[] = [];
    const frameLog = pino(
      { level: "debug" },
      {
        write(line: string) {
          const entry = JSON.parse(line) as { msg: string; events?: number };
          if (entry.msg === "audit events sent") frames.push(entry.events ?? 0);
        },
      },
    );
    const spool = await AuditSpool.open(join(workDir, "spool"));
    // A long linger, so what happens within it after the ack is certain to be within it.
    const link = new ControlPlaneLink({ ...linkOptions(spool, { batchLingerMs: 300 }), logger: frameLog });
    try {
      link.start();
      await waitFor("connected", () => link.connected);
      const first = wireAuditEvent("SELECT 'first'");
      spool.append(first);
      await waitFor("first frame sent", () => frames.length === 1);
      // One event at a time, as statements arrive on a busy agent.
      const trickle = Array.from({ length: 60 }, (_, i) => wireAuditEvent(`SELECT ${i} AS trickle`));
      for (const e of trickle) {
        spool.append(e);
        await new Promise((r) => setTimeout(r, 3));
      }
      expect(frames).toEqual([1]);
      release();
      await holder;
      // The first frame is acked; the 60 waiting events do not leave at once but after the linger, with
      // what arrives meanwhile: the store's cost is mostly per frame.
      await waitFor("first frame acked", () => spool.size === 60);
      const late = Array.from({ length: 20 }, (_, i) => wireAuditEvent(`SELECT ${i} AS late`));
      for (const e of late) spool.append(e);
      await waitFor("spool drained", () => spool.size === 0);
      expect(frames).toEqual([1, 80]);
      const ids = [first, ...trickle, ...late].map((e) => e.id);
      sentIds.push(...ids);
      expect((await storedIdCounts(ids)).size).toBe(81);
    } finally {
      release();
      await link.stop();
      await spool.close();
    }
  });

  it("rejects invalid events by id, stores the valid ones, and closes a link that keeps sending garbage", async () => {
    const { credential } = JSON.parse(await readFile(join(workDir, "credential.json"), "utf8"));
    const { ws, messages } = await rawClient(credential);
    const good = wireAuditEvent("SELECT 'good'");
    const badId = randomUUID();
    ws.send(
      JSON.stringify({
        v: PROTOCOL_VERSION,
        type: "events",
        events: [good, { ...wireAuditEvent("x"), id: badId, decision: "maybe" }],
      }),
    );
    await waitFor(
      "ack and reject",
      () => messages.some((m) => m.type === "events.ack") && messages.some((m) => m.type === "events.reject"),
    );
    expect(messages.find((m) => m.type === "events.ack")).toMatchObject({ ids: [good.id] });
    expect(messages.find((m) => m.type === "events.reject")).toMatchObject({ ids: [badId] });
    sentIds.push(good.id);

    const closed = once(ws, "close");
    for (let i = 0; i < 12; i++) ws.send(`not json ${i}`);
    const [code] = (await closed) as [number];
    expect(code).toBe(4002);
  });

  it("stores only the event types agents record (rejecting the rest by id), and none in a timeline of a connection the agent does not serve", async () => {
    const other = await issueEnrollmentToken(db, "edge-agent-other");
    const elsewhere = await db.connection.create({
      data: {
        name: "elsewhere",
        environment: "production",
        agentId: other.agent.id,
        host: "127.0.0.1",
        port: 5432,
        database: "x",
        username: "app",
      },
    });
    const { credential } = JSON.parse(await readFile(join(workDir, "credential.json"), "utf8"));
    const { ws, messages } = await rawClient(credential);
    const own = wireAuditEvent("SELECT 'own'", { connectionId });
    const failedLogin = wireAuditEvent("", { type: "auth_failure", connectionId: null, statement: null });
    const forgedAdminChange = wireAuditEvent("DROP TABLE customers", {
      type: "admin_change",
      actorName: "admin@demo.local",
      decision: "approved",
      message: "revoked all grants (forged)",
    });
    const forgedApproval = wireAuditEvent("DELETE FROM orders", { type: "approval", connectionId });
    const foreign = wireAuditEvent("SELECT 'not mine'", {
      connectionId: elsewhere.id,
      connectionName: "elsewhere",
      sessionId: randomUUID(),
    });
    // Naming no connection id, or its own connection, but another connection's name: the store's word wins.
    const plantedByName = wireAuditEvent("DROP TABLE customers", {
      connectionId: null,
      connectionName: "elsewhere",
      environment: "production",
    });
    const mislabelled = wireAuditEvent("SELECT 'own, mislabelled'", {
      connectionId,
      connectionName: "elsewhere",
      environment: "development",
    });
    ws.send(
      encodeMessage({
        v: PROTOCOL_VERSION,
        type: "events",
        events: [own, forgedAdminChange, failedLogin, foreign, forgedApproval, plantedByName, mislabelled],
      }),
    );
    await waitFor(
      "ack and reject",
      () => messages.some((m) => m.type === "events.ack") && messages.some((m) => m.type === "events.reject"),
    );
    expect(messages.find((m) => m.type === "events.ack")).toMatchObject({
      ids: [own.id, failedLogin.id, foreign.id, plantedByName.id, mislabelled.id],
    });
    expect(messages.find((m) => m.type === "events.reject")).toMatchObject({
      ids: [forgedAdminChange.id, forgedApproval.id],
    });
    const stored = await storedIdCounts(
      [own, failedLogin, forgedAdminChange, foreign, forgedApproval, plantedByName, mislabelled].map(
        (e) => e.id,
      ),
    );
    expect([...stored.keys()].sort()).toEqual(
      [own.id, failedLogin.id, foreign.id, plantedByName.id, mislabelled.id].sort(),
    );
    const where = (id: string) =>
      db.auditEvent.findUnique({
        where: { id },
        select: { connectionId: true, connectionName: true, environment: true, sessionId: true },
      });
    expect(await where(plantedByName.id)).toMatchObject({ connectionName: null, environment: null });
    const demo = await db.connection.findUniqueOrThrow({
      where: { id: connectionId },
      select: { name: true, environment: true },
    });
    expect(await where(mislabelled.id)).toMatchObject({
      connectionId,
      connectionName: demo.name,
      environment: demo.environment,
    });
    expect(demo.environment).not.toBe("development");
    expect(await where(foreign.id)).toMatchObject({ sessionId: null });
    // Kept (it may be one the agent recorded before its connection moved), but in no connection's timeline.
    expect(
      await db.auditEvent.findUnique({
        where: { id: foreign.id },
        select: { connectionId: true, connectionName: true, environment: true, message: true },
      }),
    ).toEqual({
      connectionId: null,
      connectionName: null,
      environment: null,
      message: expect.stringContaining(`does not serve connection ${elsewhere.id} (elsewhere, production)`),
    });
    sentIds.push(own.id, failedLogin.id, foreign.id, plantedByName.id, mislabelled.id);

    // A connection given to this agent after the link opened is served at once.
    const added = await db.connection.create({
      data: {
        name: "added",
        environment: "staging",
        agentId,
        host: "h",
        port: 5432,
        database: "x",
        username: "u",
      },
    });
    const onAdded = wireAuditEvent("SELECT 'added'", { connectionId: added.id, connectionName: "added" });
    ws.send(encodeMessage({ v: PROTOCOL_VERSION, type: "events", events: [onAdded] }));
    await waitFor("ack", () => messages.some((m) => m.type === "events.ack" && m.ids.includes(onAdded.id)));
    sentIds.push(onAdded.id);

    // Live sessions an agent reports for a connection it does not serve are not believed, nor stored.
    const session = (id: string, name: string) => ({
      sessionId: randomUUID(),
      identityName: "dev@demo.local",
      identityKind: "human",
      connectionId: id,
      connectionName: name,
      environment: "production",
      clientAddr: "127.0.0.1",
      applicationName: "psql",
      startedAt: new Date().toISOString(),
    });
    const mine = session(connectionId, "demo");
    const notMine = session(elsewhere.id, "elsewhere");
    ws.send(
      encodeMessage({
        v: PROTOCOL_VERSION,
        type: "heartbeat",
        activeSessions: 2,
        spooled: 0,
        sessions: [mine, notMine],
      }),
    );
    await waitFor("heartbeat recorded", async () => (await listLiveSessions(db)).length > 0);
    expect((await listLiveSessions(db)).map((s) => s.sessionId)).toEqual([mine.sessionId]);
    const agentRow = await db.agent.findUniqueOrThrow({
      where: { id: agentId },
      select: { liveSessions: true },
    });
    expect((agentRow.liveSessions as { sessionId: string }[]).map((s) => s.sessionId)).toEqual([
      mine.sessionId,
    ]);
    ws.close();
    await db.connection.delete({ where: { id: elsewhere.id } });
  });

  it("withdraws a held statement's request when its session ends, and only the serving agent may", async () => {
    const other = await issueEnrollmentToken(db, "edge-agent-withdraw");
    const elsewhere = await db.connection.create({
      data: {
        name: "elsewhere-withdraw",
        environment: "production",
        agentId: other.agent.id,
        host: "127.0.0.1",
        port: 5432,
        database: "x",
        username: "app",
      },
    });
    const requester = await db.identity.create({
      data: { name: "withdrawn@example.com", displayName: "Gone", kind: "human", roles: ["member"] },
    });
    const approver = { id: randomUUID(), name: "approver@example.com", kind: "human" as const, groups: [] };
    const held = (statement: string) => ({
      sessionId: randomUUID(),
      identityId: requester.id,
      statement,
      statementClass: "write",
      tables: ["public.orders"],
      ruleId: null,
      ruleName: "Writes need a review",
      message: "needs approval",
    });
    // Another agent's pending request: this agent cannot withdraw it.
    const foreignId = randomUUID();
    await createApproval(db, {
      ...held("DELETE FROM elsewhere"),
      id: foreignId,
      requesterId: requester.id,
      connectionId: elsewhere.id,
      analysis: { statementClass: "write", tables: [], ruleName: null, message: "needs approval" },
      risk: "high",
      expiresAt: new Date(Date.now() + 60_000),
    });

    // Sent by hand (the real link only withdraws what it asked for): the request of a connection this agent
    // does not serve stays pending; its own is withdrawn.
    const ownId = randomUUID();
    await createApproval(db, {
      ...held("DELETE FROM own"),
      id: ownId,
      requesterId: requester.id,
      connectionId,
      analysis: { statementClass: "write", tables: [], ruleName: null, message: "needs approval" },
      risk: "high",
      expiresAt: new Date(Date.now() + 60_000),
    });
    const { credential } = JSON.parse(await readFile(join(workDir, "credential.json"), "utf8"));
    const raw = await rawClient(credential);
    for (const id of [foreignId, ownId])
      raw.ws.send(
        encodeMessage({ v: PROTOCOL_VERSION, type: "approval.withdraw", approvalId: id, reason: "gone" }),
      );
    await waitFor(
      "own request withdrawn",
      async () => (await db.approval.findUnique({ where: { id: ownId } }))?.status === "cancelled",
    );
    expect((await db.approval.findUniqueOrThrow({ where: { id: foreignId } })).status).toBe("pending");
    raw.ws.close();

    const spool = await AuditSpool.open(join(workDir, "withdraw-spool"));
    const link = new ControlPlaneLink(linkOptions(spool));
    link.start();
    await waitFor("connected", () => link.connected);
    const approvalId = randomUUID();
    let settled = false;
    void link
      .requestApproval({ approvalId, connectionId, ...held("DELETE FROM orders WHERE id = 7") }, 10_000)
      .then(() => (settled = true));
    await waitFor(
      "approval recorded",
      async () => (await db.approval.count({ where: { id: approvalId } })) === 1,
    );
    link.withdrawApproval(approvalId, "client went away");
    await waitFor(
      "approval withdrawn",
      async () => (await db.approval.findUnique({ where: { id: approvalId } }))?.status === "cancelled",
    );
    const events = await db.auditEvent.findMany({
      where: { type: "approval", statement: "DELETE FROM orders WHERE id = 7" },
      orderBy: { seq: "asc" },
      select: { decision: true, message: true },
    });
    expect(events.map((e) => e.decision)).toEqual(["pending_approval", "denied"]);
    expect(events[1]?.message).toBe(
      "withdrawn before a decision: the session ended (client went away); the statement did not run",
    );
    // Nobody can approve it any more, and nothing waits for a decision on the agent's side.
    await expect(
      decideApproval(db, approver, { id: approvalId, approve: true, reason: "too late" }),
    ).rejects.toThrow(/already cancelled/);
    expect(settled).toBe(false);
    await link.stop();
    await db.approval.deleteMany({ where: { id: { in: [foreignId, ownId] } } });
    await db.connection.delete({ where: { id: elsewhere.id } });
  });

  it("stores text Postgres cannot hold (half an emoji, NUL) as U+FFFD, so one such event does not jam the spool", async () => {
    const issued = await issueEnrollmentToken(db, "edge-agent-emoji");
    const dir = await mkdtemp(join(workDir, "emoji-"));
    const spool = await AuditSpool.open(join(dir, "spool"));
    const link = new ControlPlaneLink(
      linkOptions(spool, {
        enrollmentToken: issued.token,
        credentialFile: join(dir, "credential.json"),
        policyCacheFile: join(dir, "policy-cache.json"),
      }),
    );
    link.start();
    try {
      await waitFor("link", () => link.connected);
      // What the proxy does with a long statement: .slice(0, 100_000) on UTF-16 units, here inside an emoji.
      const cut = `SELECT 1 -- ${"x".repeat(100_000 - 13)}😀 tail`.slice(0, 100_000);
      const halfEmoji = wireAuditEvent(cut);
      const nul = wireAuditEvent("SELECT 'a\u0000b'", { applicationName: "app\u0000" });
      const after = Array.from({ length: 5 }, (_, i) => wireAuditEvent(`SELECT ${i} /* after */`));
      const all = [halfEmoji, nul, ...after];
      for (const event of all) spool.append(event);
      await waitFor(
        "every event stored",
        async () => (await storedIdCounts(all.map((e) => e.id))).size === all.length,
      );
      await waitFor("spool drained", () => spool.size === 0);
      const stored = await db.auditEvent.findMany({
        where: { id: { in: [halfEmoji.id, nul.id] } },
        select: { id: true, statement: true, applicationName: true },
      });
      const byId = new Map(stored.map((r) => [r.id, r]));
      expect(byId.get(halfEmoji.id)?.statement).toBe(`${cut.slice(0, -1)}\uFFFD`);
      expect(byId.get(nul.id)).toMatchObject({
        statement: "SELECT 'a\uFFFDb'",
        applicationName: "app\uFFFD",
      });
      expect((await verifyAuditChain(db)).ok).toBe(true);
    } finally {
      await link.stop();
      await spool.close();
    }
  }, 30_000);

  it("keeps one live link per agent: a newer link replaces the older", async () => {
    const { credential } = JSON.parse(await readFile(join(workDir, "credential.json"), "utf8"));
    const first = await rawClient(credential);
    const firstClosed = once(first.ws, "close");
    const second = await rawClient(credential);
    const [code] = (await firstClosed) as [number];
    expect(code).toBe(4001);
    expect(gateway.connectedAgents()).toHaveLength(1);
    second.ws.send(encodeMessage({ v: PROTOCOL_VERSION, type: "heartbeat", activeSessions: 2, spooled: 0 }));
    await waitFor("heartbeat recorded", async () => {
      const agent = await db.agent.findUniqueOrThrow({ where: { id: agentId } });
      return agent.lastHeartbeatAt !== null && agent.hostname === "test-host";
    });
    second.ws.close();
  });

  it("delivers an approval decision, and runs a connection test, asked on another replica than the agent's", async () => {
    // The main gateway listens for replica signals too: the agent links to `replica`, the decision is
    // taken on `gateway`, as when the approver's request and the agent's link land on different replicas.
    await stopControlPlane();
    await startControlPlane({ replicas: { databaseUrl: database.url, deliveryTimeoutMs: 500 } });
    const replicaServer = createServer((_req, res) => res.writeHead(404).end());
    const replica = attachAgentGateway(replicaServer, {
      db,
      secretKey,
      logger,
      replicas: { databaseUrl: database.url, deliveryTimeoutMs: 500 },
    });
    replicaServer.listen(0, "127.0.0.1");
    await once(replicaServer, "listening");
    const replicaPort = (replicaServer.address() as AddressInfo).port;
    await Promise.all([gateway.replicasReady(), replica.replicasReady()]);

    const spool = await AuditSpool.open(join(workDir, "spool"));
    const link = new ControlPlaneLink(linkOptions(spool, { url: `ws://127.0.0.1:${replicaPort}` }));
    link.start();
    await waitFor("connected to the replica", () => link.connected);
    expect(gateway.connectedAgents()).toEqual([]);
    const requester = await db.identity.create({
      data: { name: "held@example.com", displayName: "Held", kind: "human", roles: ["member"] },
    });
    const approvalId = randomUUID();
    const outcome = link.requestApproval(
      {
        approvalId,
        sessionId: randomUUID(),
        identityId: requester.id,
        connectionId,
        statement: "DELETE FROM orders",
        statementClass: "write",
        tables: ["public.orders"],
        ruleId: null,
        ruleName: "Writes need a review",
        message: "needs approval",
      },
      10_000,
    );
    await waitFor(
      "approval recorded",
      async () => (await db.approval.count({ where: { id: approvalId } })) === 1,
    );

    let settled = false;
    void outcome.then(() => (settled = true));
    // A NOTIFY anyone who can reach the store could send: it names the pending request, and nothing runs.
    await publishSignal(
      db,
      "portcullis_approval_decided",
      JSON.stringify({ id: randomUUID(), agentId, approvalId }),
    );
    const decision = { approvalId, approved: true, decidedBy: "approver@example.com", reason: "looks right" };
    expect(await gateway.sendApprovalDecision(agentId, decision)).toBe(false);
    expect(settled).toBe(false);

    // Decided in the store (as the approvals service does), the decision reaches the agent as stored.
    const approver = await db.identity.create({
      data: { name: "approver@example.com", displayName: "Approver", kind: "human", roles: ["approver"] },
    });
    await decideApproval(
      db,
      { id: approver.id, name: approver.name, kind: "human", groups: [] },
      { id: approvalId, approve: true, reason: "looks right" },
    );
    expect(await gateway.sendApprovalDecision(agentId, decision)).toBe(true);
    expect(await outcome).toEqual({
      approved: true,
      decidedBy: "approver@example.com",
      reason: "looks right",
    });
    // No replica holds this agent: the decider hears no confirmation and says so.
    expect(await replica.sendApprovalDecision(randomUUID(), decision)).toBe(false);

    // The onboarding wizard's connection test, asked on `gateway`, runs on the agent behind `replica`: the
    // agent's real probe against this very store, with a CA bundle bigger than a NOTIFY payload could hold.
    link.on("probe", (request) => {
      void probeDatabase({ ...request.upstream }, request.scan).then((result) =>
        link.sendProbeResult(request.requestId, result),
      );
    });
    const store = new URL(database.url);
    const target = {
      host: store.hostname,
      port: Number(store.port),
      database: store.pathname.slice(1),
      username: decodeURIComponent(store.username),
      password: null,
      tlsMode: "disable" as const,
      ca: `-----BEGIN CERTIFICATE-----\n${"A".repeat(9000)}\n-----END CERTIFICATE-----\n`,
    };
    const tested = await gateway.probe(agentId, target, { scan: true, timeoutMs: 10_000 });
    expect(tested).toMatchObject({ ok: true, error: null, serverVersion: expect.stringMatching(/^1\d/) });
    expect(tested.tablesScanned).toBeGreaterThan(5);
    // The test's secret travelled encrypted, and neither it nor the result is left in the store.
    expect(await db.replicaMessage.count()).toBe(0);
    expect(await replica.probe(randomUUID(), target, { timeoutMs: 1000 })).toMatchObject({
      ok: false,
      error: "the agent is not connected to the control plane",
    });
    expect(await db.replicaMessage.count()).toBe(0);

    await link.stop();
    await spool.close();
    await replica.close();
    replicaServer.closeAllConnections();
    await new Promise<void>((resolve) => replicaServer.close(() => resolve()));
  });
});
