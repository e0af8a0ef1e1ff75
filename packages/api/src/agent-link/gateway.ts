// The control-plane end of the agent link: one authenticated WebSocket per agent on the app's own HTTP
// server (Next.js route handlers cannot take upgrades). Agents pull policy snapshots and push audit events.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import {
  AGENT_LINK_PATH,
  encodeMessage,
  parseAgentMessage,
  PROTOCOL_VERSION,
  storableText,
  ZPolicySnapshot,
  type TAgentMessage,
  type TAuditEvent,
  type TControlMessage,
  type TLiveSession,
  type TProbeResult,
  type TUpstreamTargetSpec,
} from "@portcullis/agent-protocol";
import {
  appendAuditEventsOrRefuse,
  approvalRequirement,
  authenticateAgentBearer,
  createApproval,
  findConnectionAgent,
  buildPolicySnapshot,
  getPolicyRevision,
  listAgentConnections,
  recordAgentHeartbeat,
  withdrawApproval,
  type TDb,
} from "@portcullis/db";
import type { Logger } from "pino";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { toApprovalDto } from "../approvals/service.ts";
import { notifier } from "../notifications/notifier.ts";
import {
  AGENT_NOT_CONNECTED,
  createReplicaRelay,
  type TApprovalDecision,
  type TReplicaRelayOptions,
} from "./replica-relay.ts";
import { SerialQueue } from "./serial-queue.ts";
import {
  salvageEventsFrame,
  screenAgentEvents,
  toNewAuditEvent,
  type TServedConnections,
} from "./wire-events.ts";

export interface TAgentGatewayOptions {
  db: TDb;
  /** Key that decrypts upstream secrets before they are sent to the agent that needs them. */
  secretKey: Buffer;
  logger: Logger;
  /** How often the gateway checks the policy revision and pushes new snapshots (ms). */
  policyPollMs?: number;
  /** WebSocket ping interval; a link that has not answered the previous ping is terminated (ms). */
  pingIntervalMs?: number;
  /** Largest frame accepted from an agent (bytes). */
  maxPayloadBytes?: number;
  /**
   * Other control-plane replicas on the same store: an approval decided on one of them reaches an agent
   * linked to this one (and the other way round) over the store's LISTEN/NOTIFY. Absent: this process only
   * (the embedded store, whose single session cannot also listen).
   */
  replicas?: TReplicaRelayOptions;
}

export interface TAgentGateway {
  close(): Promise<void>;
  connectedAgents(): { agentId: string; agentName: string; connectedAt: Date }[];
  /**
   * Asks a connected agent to connect to a database (and optionally scan it for sensitive data). Resolves
   * with the agent's answer, or with ok: false when the agent is offline or does not answer in time.
   */
  probe(
    agentId: string,
    upstream: TUpstreamTargetSpec,
    options?: { scan?: boolean; timeoutMs?: number },
  ): Promise<TProbeResult>;
  /** host:port where clients reach a connected agent, as it announced it; null when offline. */
  agentAddress(agentId: string): string | null;
  /**
   * Tells the agent holding a statement how its approval was decided, through whichever replica it is linked
   * to; false when no replica confirmed delivery (the agent is offline).
   */
  sendApprovalDecision(agentId: string, decision: TApprovalDecision): Promise<boolean>;
  /** Resolves once the gateway listens for other replicas' signals (at once without replicas). */
  replicasReady(): Promise<void>;
}

/** Close codes agents can act on (4000-4999 is the application range). */
export const LINK_CLOSE = {
  shuttingDown: { code: 1001, reason: "control plane shutting down" },
  internalError: { code: 1011, reason: "control plane error" },
  auditStoreUnavailable: { code: 1011, reason: "audit store unavailable, reconnect and resend" },
  replaced: { code: 4001, reason: "replaced by a newer link from the same agent" },
  invalidFrames: { code: 4002, reason: "too many invalid frames" },
} as const;

const INVALID_FRAME_LIMIT = 10;
const INVALID_FRAME_WINDOW_MS = 60_000;
/** Unauthenticated upgrades each cost a database lookup: cap how many are in progress at once. */
const MAX_PENDING_AUTH = 64;
/** Per link: event frames accepted but not yet stored. Past it, reading from the socket pauses (TCP backpressure). */
const MAX_EVENT_FRAMES_IN_PROGRESS = 8;
/** How long a link trusts its list of the connections its agent serves (a connection moved away: this late). */
const SERVED_CONNECTIONS_TTL_MS = 30_000;

interface TLink {
  ws: WebSocket;
  agentId: string;
  agentName: string;
  connectedAt: Date;
  alive: boolean;
  invalidFrames: number;
  invalidWindowStart: number;
  eventFramesInProgress: number;
  agentVersion?: string;
  hostname?: string;
  address?: string;
  /** When the agent's process started (from its hello). */
  startedAt?: Date;
  /** Snapshot pushes are serialized per link so an older snapshot never overtakes a newer one. */
  policyPush: Promise<void>;
  /** The last snapshot could not be built: the next poll tries again even without a revision change. */
  policyStale: boolean;
  /** The connections the agent serves, as last read (see servedConnections). */
  served?: { connections: TServedConnections; at: number };
  /** Heartbeats are stored one after the other, so an older list of live sessions never overwrites a newer. */
  heartbeats: Promise<void>;
  log: Logger;
}

export function attachAgentGateway(server: Server, options: TAgentGatewayOptions): TAgentGateway {
  const { db, secretKey } = options;
  const logger = options.logger; // the caller binds its component name (apps/web/server.ts does)
  const policyPollMs = options.policyPollMs ?? 1000;
  const links = new Map<string, TLink>();
  const probes = new Map<
    string,
    { agentId: string; resolve: (result: TProbeResult) => void; timer: NodeJS.Timeout }
  >();
  const probeFailure = (error: string): TProbeResult => ({
    ok: false,
    error,
    serverVersion: null,
    tablesScanned: 0,
    classifications: [],
  });
  const appendQueue = new SerialQueue();
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes ?? 4 * 1024 * 1024 });
  let pendingAuth = 0;
  let closed = false;
  let lastRevision: number | null = null;
  let pollTimer: NodeJS.Timeout | null = null;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (requestPath(req) !== AGENT_LINK_PATH) return; // someone else's upgrade (e.g. Next's dev server)
    void handleUpgrade(req, socket, head);
  };
  server.on("upgrade", onUpgrade);

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // Without a listener, a reset during authentication would crash the process.
    socket.on("error", (err) => logger.debug({ err }, "agent upgrade socket error"));
    const remote = req.socket.remoteAddress;
    if (closed) return rejectUpgrade(socket, 503, "shutting down");
    const bearer = bearerToken(req);
    if (!bearer) {
      logger.warn({ remote }, "agent link refused: no bearer token");
      return rejectUpgrade(socket, 401, "missing bearer token");
    }
    if (pendingAuth >= MAX_PENDING_AUTH) return rejectUpgrade(socket, 503, "busy, retry later");
    pendingAuth += 1;
    let auth: Awaited<ReturnType<typeof authenticateAgentBearer>>;
    try {
      auth = await authenticateAgentBearer(db, bearer);
    } catch (err) {
      logger.error({ err, remote }, "agent link: authentication failed with an error");
      return rejectUpgrade(socket, 503, "authentication unavailable");
    } finally {
      pendingAuth -= 1;
    }
    if (!auth) {
      logger.warn({ remote, kind: bearer.slice(0, 5) }, "agent link refused: unknown, used or expired token");
      return rejectUpgrade(socket, 401, "invalid agent credential or enrollment token");
    }
    if (closed) return rejectUpgrade(socket, 503, "shutting down");
    if (socket.destroyed) {
      // Only matters for enrollment: the token is consumed and the credential was never delivered.
      if (auth.issuedCredential)
        logger.error({ agent: auth.agent.name }, "agent disconnected during enrollment; issue a new token");
      return;
    }
    const { agent, issuedCredential } = auth;
    wss.handleUpgrade(req, socket, head, (ws) => onLink(ws, agent, issuedCredential, remote));
  }

  function onLink(
    ws: WebSocket,
    agent: { id: string; name: string },
    issuedCredential: string | null,
    remote?: string,
  ) {
    const log = logger.child({ agentId: agent.id, agent: agent.name });
    const previous = links.get(agent.id);
    if (previous) {
      log.warn("agent opened a new link; closing the previous one");
      closeLink(previous, LINK_CLOSE.replaced);
    }
    const now = Date.now();
    const link: TLink = {
      ws,
      agentId: agent.id,
      agentName: agent.name,
      connectedAt: new Date(now),
      alive: true,
      invalidFrames: 0,
      invalidWindowStart: now,
      eventFramesInProgress: 0,
      policyPush: Promise.resolve(),
      policyStale: false,
      heartbeats: Promise.resolve(),
      log,
    };
    links.set(agent.id, link);
    log.info({ remote, enrolled: issuedCredential !== null }, "agent connected");

    // Handlers first: frames the agent sends right after the handshake must not be missed.
    ws.on("pong", () => (link.alive = true));
    ws.on("message", (data, isBinary) => onFrame(link, data, isBinary));
    ws.on("error", (err) => log.warn({ err }, "agent link error"));
    ws.on("close", (code, reason) => {
      if (links.get(agent.id) === link) links.delete(agent.id);
      log.info({ code, reason: reason.toString() }, "agent disconnected");
    });

    if (issuedCredential) {
      send(link, {
        v: PROTOCOL_VERSION,
        type: "enrolled",
        agentId: agent.id,
        agentName: agent.name,
        credential: issuedCredential,
      });
      log.info("agent enrolled: credential issued");
    }
    send(link, {
      v: PROTOCOL_VERSION,
      type: "welcome",
      agentId: agent.id,
      agentName: agent.name,
      serverTime: new Date().toISOString(),
    });
    pushPolicy(link);
  }

  function onFrame(link: TLink, data: RawData, isBinary: boolean): void {
    if (link.ws.readyState !== WebSocket.OPEN) return; // closing: replaced, shut down or cut off
    const raw = isBinary ? null : rawToString(data);
    const message =
      raw === null ? { error: "binary frames are not part of the protocol" } : parseAgentMessage(raw);
    if ("error" in message) {
      const salvaged = raw === null ? null : salvageEventsFrame(raw);
      if (salvaged) return void storeEvents(link, salvaged.valid, salvaged);
      return invalidFrame(link, message.error);
    }
    handleMessage(link, message);
  }

  function handleMessage(link: TLink, message: TAgentMessage): void {
    switch (message.type) {
      case "hello":
        link.agentVersion = message.agentVersion;
        link.hostname = message.hostname;
        link.address = message.address;
        if (message.startedAt) link.startedAt = new Date(message.startedAt);
        link.log.info(
          { version: message.agentVersion, hostname: message.hostname, spooled: message.spooled },
          "agent hello",
        );
        heartbeat(link);
        return;
      case "heartbeat":
        link.log.debug(
          { activeSessions: message.activeSessions, spooled: message.spooled },
          "agent heartbeat",
        );
        heartbeat(link, message.sessions);
        return;
      case "events":
        void storeEvents(link, message.events, null);
        return;
      case "approval.request":
        void createApprovalRequest(link, message);
        return;
      case "approval.withdraw":
        void withdrawApprovalRequest(link, message);
        return;
      case "probe.result": {
        const pending = probes.get(message.requestId);
        // Only the agent that was asked may answer.
        if (!pending || pending.agentId !== link.agentId) return;
        probes.delete(message.requestId);
        clearTimeout(pending.timer);
        pending.resolve(message.result);
        return;
      }
    }
  }

  async function createApprovalRequest(
    link: TLink,
    message: Extract<TAgentMessage, { type: "approval.request" }>,
  ): Promise<void> {
    const deny = (reason: string) =>
      link.ws.send(
        encodeMessage({
          v: PROTOCOL_VERSION,
          type: "approval.decision",
          approvalId: message.approvalId,
          approved: false,
          decidedBy: null,
          reason,
        }),
      );
    try {
      // An agent may only ask about connections it serves.
      if ((await findConnectionAgent(db, message.connectionId))?.agentId !== link.agentId)
        return deny("this agent does not serve that connection");
      // Who must decide comes from the control plane's own copy of the rule, not from the agent.
      const requirement = await approvalRequirement(db, message.connectionId, message.ruleId);
      const approval = await createApproval(db, {
        ...requirement,
        id: message.approvalId,
        requesterId: message.identityId,
        connectionId: message.connectionId,
        sessionId: message.sessionId,
        statement: message.statement,
        analysis: {
          statementClass: message.statementClass,
          tables: message.tables,
          ruleName: message.ruleName,
          message: message.message,
        },
        risk: riskOf(message.statementClass),
        ruleId: message.ruleId,
        expiresAt: new Date(message.expiresAt),
      });
      link.log.info({ approvalId: message.approvalId }, "approval requested");
      void notifier()?.approvalRequested(toApprovalDto(approval));
    } catch (err) {
      link.log.error({ err, approvalId: message.approvalId }, "could not record an approval request");
      deny("the control plane could not record the request");
    }
  }

  async function withdrawApprovalRequest(
    link: TLink,
    message: Extract<TAgentMessage, { type: "approval.withdraw" }>,
  ): Promise<void> {
    try {
      const reason = storableText(message.reason);
      const withdrawn = await withdrawApproval(db, { id: message.approvalId, agentId: link.agentId, reason });
      link.log.info(
        { approvalId: message.approvalId, withdrawn: withdrawn !== null },
        "approval request withdrawn by the agent",
      );
      if (withdrawn)
        void notifier()?.approvalDecided(
          toApprovalDto(withdrawn),
          "the agent",
          `the session ended (${reason})`,
        );
    } catch (err) {
      link.log.error({ err, approvalId: message.approvalId }, "could not withdraw an approval request");
    }
  }

  function heartbeat(link: TLink, liveSessions?: TLiveSession[]): void {
    link.heartbeats = link.heartbeats.then(async () => {
      try {
        // Only sessions on connections this agent serves are stored: others it names are not believed.
        let sessions = liveSessions;
        if (sessions) {
          const served = await servedConnections(
            link,
            sessions.map((s) => s.connectionId),
          );
          const reported = sessions.length;
          sessions = sessions.filter((s) => served.has(s.connectionId));
          if (sessions.length < reported)
            link.log.warn(
              { ignored: reported - sessions.length },
              "ignored live sessions on connections the agent does not serve",
            );
        }
        await recordAgentHeartbeat(db, link.agentId, {
          version: link.agentVersion,
          hostname: link.hostname,
          address: link.address,
          ...(link.startedAt ? { startedAt: link.startedAt } : {}),
          ...(sessions ? { liveSessions: sessions } : {}),
        });
      } catch (err) {
        link.log.warn({ err }, "could not record agent heartbeat");
      }
    });
  }

  async function storeEvents(
    link: TLink,
    events: TAuditEvent[],
    invalid: { rejectedIds: string[]; unnamed: number; reason: string } | null,
  ): Promise<void> {
    if (invalid) {
      link.log.warn(
        { rejected: invalid.rejectedIds, unnamed: invalid.unnamed, reason: invalid.reason },
        "rejected invalid audit events",
      );
      if (invalid.rejectedIds.length > 0) {
        send(link, {
          v: PROTOCOL_VERSION,
          type: "events.reject",
          ids: invalid.rejectedIds,
          reason: invalid.reason,
        });
      }
    }
    if (events.length === 0) return;
    link.eventFramesInProgress += 1;
    if (link.eventFramesInProgress >= MAX_EVENT_FRAMES_IN_PROGRESS) link.ws.pause();
    try {
      // Only event types agents record, and only about connections this agent serves.
      const screened = screenAgentEvents(
        events,
        await servedConnections(
          link,
          events.map((e) => e.connectionId),
        ),
      );
      if (screened.rejectedIds.length > 0) {
        link.log.warn(
          { rejected: screened.rejectedIds, reason: screened.reason },
          "rejected audit events the agent may not record",
        );
        send(link, {
          v: PROTOCOL_VERSION,
          type: "events.reject",
          ids: screened.rejectedIds,
          reason: screened.reason,
        });
      }
      events = screened.accepted;
      if (events.length === 0) return;
      const rows = events.map((e) => toNewAuditEvent(e, link.agentId));
      const result = await appendQueue.run(() => appendAuditEventsOrRefuse(db, rows));
      link.log.info(
        { inserted: result.inserted.length, duplicates: result.duplicates.length },
        "audit events stored, ack sent",
      );
      if (result.refused.length > 0) {
        // Dropped by the agent: the store will never take them, and they must not block its spool.
        link.log.error({ rejected: result.refused }, "the audit store refused events; rejected them");
        send(link, {
          v: PROTOCOL_VERSION,
          type: "events.reject",
          ids: result.refused,
          reason: "the audit store refused a value of the event",
        });
      }
      send(link, {
        v: PROTOCOL_VERSION,
        type: "events.ack",
        ids: [...result.inserted, ...result.duplicates],
      });
    } catch (err) {
      // No ack: the agent keeps the events. Closing makes it reconnect and resend rather than wait forever.
      link.log.error({ err, count: events.length }, "could not store audit events");
      closeLink(link, LINK_CLOSE.auditStoreUnavailable);
    } finally {
      link.eventFramesInProgress -= 1;
      if (link.ws.isPaused && link.eventFramesInProgress < MAX_EVENT_FRAMES_IN_PROGRESS) link.ws.resume();
    }
  }

  /**
   * The connections the link's agent serves, read again when older than SERVED_CONNECTIONS_TTL_MS or when
   * one of `named` is not among them (a connection created since): a new connection's events are never
   * refused for a stale list, and one moved to another agent is refused within the TTL.
   */
  async function servedConnections(link: TLink, named: (string | null)[]): Promise<TServedConnections> {
    const cached = link.served;
    if (
      cached &&
      Date.now() - cached.at < SERVED_CONNECTIONS_TTL_MS &&
      named.every((id) => id === null || cached.connections.has(id))
    )
      return cached.connections;
    const connections: TServedConnections = new Map(
      (await listAgentConnections(db, link.agentId)).map((c) => [c.id, c]),
    );
    link.served = { connections, at: Date.now() };
    return connections;
  }

  function invalidFrame(link: TLink, error: string): void {
    const now = Date.now();
    if (now - link.invalidWindowStart > INVALID_FRAME_WINDOW_MS) {
      link.invalidWindowStart = now;
      link.invalidFrames = 0;
    }
    link.invalidFrames += 1;
    link.log.warn(
      { error: error.slice(0, 500), count: link.invalidFrames },
      "dropped invalid frame from agent",
    );
    if (link.invalidFrames >= INVALID_FRAME_LIMIT) closeLink(link, LINK_CLOSE.invalidFrames);
  }

  function pushPolicy(link: TLink): void {
    link.policyStale = false;
    link.policyPush = link.policyPush.then(async () => {
      if (closed || link.ws.readyState !== WebSocket.OPEN) return;
      let snapshot: unknown;
      try {
        snapshot = await buildPolicySnapshot(db, link.agentId, { secretKey });
      } catch (err) {
        // Transient (database) failure: the agent keeps its last policy; the next revision check retries.
        link.log.error({ err }, "could not build policy snapshot; retrying on the next poll");
        link.policyStale = true;
        return;
      }
      const parsed = ZPolicySnapshot.safeParse(snapshot);
      if (!parsed.success) {
        // Fail closed: never send a policy the agent would have to guess about.
        link.log.error(
          { issues: parsed.error.issues.slice(0, 5) },
          "policy snapshot does not match the contract; closing link",
        );
        closeLink(link, LINK_CLOSE.internalError);
        return;
      }
      send(link, { v: PROTOCOL_VERSION, type: "policy", snapshot: parsed.data });
      link.log.info(
        { revision: parsed.data.revision, connections: parsed.data.connections.length },
        "policy snapshot sent",
      );
    });
  }

  // Revision polling: a setTimeout chain, so a slow database never stacks overlapping polls.
  const poll = async () => {
    try {
      const revision = await getPolicyRevision(db);
      const changed = lastRevision !== null && revision !== lastRevision;
      if (changed)
        logger.info({ revision, agents: links.size }, "policy revision changed; pushing snapshots");
      for (const link of links.values()) if (changed || link.policyStale) pushPolicy(link);
      lastRevision = revision;
    } catch (err) {
      logger.warn({ err }, "could not read the policy revision");
    }
    if (!closed) pollTimer = setTimeout(() => void poll(), policyPollMs);
  };
  void poll();

  const pingTimer = setInterval(() => {
    for (const link of links.values()) {
      if (!link.alive) {
        link.log.warn("agent missed a ping; terminating link");
        link.ws.terminate();
        continue;
      }
      link.alive = false;
      link.ws.ping();
    }
  }, options.pingIntervalMs ?? 15_000);

  /** The agent's link, when it is on this replica and open. */
  function openLink(agentId: string): TLink | null {
    const link = links.get(agentId);
    return link && link.ws.readyState === WebSocket.OPEN ? link : null;
  }

  /** Sends a decision to the agent if its link is on this replica. */
  function deliverLocally(agentId: string, decision: TApprovalDecision): boolean {
    const link = openLink(agentId);
    if (!link) return false;
    link.ws.send(encodeMessage({ v: PROTOCOL_VERSION, type: "approval.decision", ...decision }));
    return true;
  }

  /** Asks the agent on this replica's link to connect to a database; resolves with its answer or a failure. */
  function probeLocally(
    link: TLink,
    upstream: TUpstreamTargetSpec,
    scan: boolean,
    timeoutMs: number,
  ): Promise<TProbeResult> {
    const requestId = randomUUID();
    return new Promise<TProbeResult>((resolve) => {
      const timer = setTimeout(() => {
        probes.delete(requestId);
        resolve(probeFailure(`the agent did not answer within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      timer.unref();
      probes.set(requestId, { agentId: link.agentId, resolve, timer });
      link.ws.send(encodeMessage({ v: PROTOCOL_VERSION, type: "probe", requestId, upstream, scan }));
    });
  }

  const replicas = options.replicas
    ? createReplicaRelay(options.replicas, {
        db,
        secretKey,
        logger,
        holdsLink: (agentId) => openLink(agentId) !== null,
        deliverLocally,
        probeLocally: (agentId, upstream, scan, timeoutMs) => {
          const link = openLink(agentId);
          return link ? probeLocally(link, upstream, scan, timeoutMs) : null;
        },
        probeFailure,
      })
    : null;

  function send(link: TLink, message: TControlMessage): void {
    if (link.ws.readyState === WebSocket.OPEN) link.ws.send(encodeMessage(message));
  }

  function closeLink(link: TLink, how: { code: number; reason: string }): void {
    if (links.get(link.agentId) === link) links.delete(link.agentId);
    if (link.ws.readyState === WebSocket.OPEN || link.ws.readyState === WebSocket.CONNECTING)
      link.ws.close(how.code, how.reason);
    // A peer that never completes the closing handshake must not hold the socket open.
    setTimeout(() => link.ws.terminate(), 5000).unref();
  }

  return {
    sendApprovalDecision(agentId, decision) {
      if (deliverLocally(agentId, decision)) return Promise.resolve(true);
      return replicas && !closed ? replicas.sendApprovalDecision(agentId, decision) : Promise.resolve(false);
    },
    replicasReady() {
      return replicas?.ready ?? Promise.resolve();
    },
    agentAddress(agentId) {
      return links.get(agentId)?.address ?? null;
    },
    probe(agentId, upstream, probeOptions = {}) {
      const timeoutMs = probeOptions.timeoutMs ?? 60_000;
      const scan = probeOptions.scan ?? false;
      const link = openLink(agentId);
      if (link) return probeLocally(link, upstream, scan, timeoutMs);
      if (!replicas || closed) return Promise.resolve(probeFailure(AGENT_NOT_CONNECTED));
      return replicas.probe(agentId, upstream, scan, timeoutMs);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const [id, pending] of probes) {
        clearTimeout(pending.timer);
        pending.resolve(probeFailure("the control plane is shutting down"));
        probes.delete(id);
      }
      await replicas?.close();
      server.off("upgrade", onUpgrade);
      if (pollTimer) clearTimeout(pollTimer);
      clearInterval(pingTimer);
      const sockets = [...wss.clients];
      const pushes = [...links.values()].flatMap((l) => [l.policyPush, l.heartbeats]);
      for (const link of [...links.values()]) closeLink(link, LINK_CLOSE.shuttingDown);
      await Promise.all(
        sockets.map(
          (ws) =>
            new Promise<void>((resolve) => {
              if (ws.readyState === WebSocket.CLOSED) return resolve();
              ws.once("close", () => resolve());
              setTimeout(() => ws.terminate(), 2000).unref();
            }),
        ),
      );
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      // In-flight appends finish (their acks go nowhere; the agent resends and gets duplicates acked).
      await Promise.all(pushes);
      await appendQueue.idle();
      logger.info("agent gateway closed");
    },
    connectedAgents() {
      return [...links.values()].map((l) => ({
        agentId: l.agentId,
        agentName: l.agentName,
        connectedAt: l.connectedAt,
      }));
    },
  };
}

function requestPath(req: IncomingMessage): string | null {
  try {
    return new URL(req.url ?? "/", "http://localhost").pathname;
  } catch {
    return null;
  }
}

function bearerToken(req: IncomingMessage): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return match?.[1] && match[1].length <= 200 ? match[1] : null;
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}

/** Answers an upgrade request with a plain HTTP error; the WebSocket handshake never happens. */
function rejectUpgrade(socket: Duplex, status: 401 | 503, message: string): void {
  if (socket.destroyed) return;
  const statusText = status === 401 ? "Unauthorized" : "Service Unavailable";
  const body = `${message}\n`;
  const headers = [
    `HTTP/1.1 ${status} ${statusText}`,
    "Connection: close",
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(status === 401 ? ['WWW-Authenticate: Bearer realm="portcullis-agent"'] : []),
  ];
  socket.end(`${headers.join("\r\n")}\r\n\r\n${body}`);
  socket.once("finish", () => socket.destroy());
}

export { registerAgentGateway } from "./registry.ts";

/** A coarse risk label for approvers' lists: what the held statement can do. */
function riskOf(statementClass: string): "high" | "medium" | "low" {
  if (["ddl", "privilege", "admin", "unknown"].includes(statementClass)) return "high";
  return statementClass === "write" ? "medium" : "low";
}

export { createNotifier, registerNotifier } from "../notifications/notifier.ts";
