// The agent end of the agent link: one authenticated WebSocket to the control plane, kept up for the life
// of the process. It enrolls (once), receives policy snapshots (cached on disk so enforcement survives a
// control-plane outage and a restart), and drains the audit spool with acknowledged delivery.
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import {
  AGENT_LINK_PATH,
  encodeMessage,
  fitAuditText,
  parseControlMessage,
  PROTOCOL_VERSION,
  ZPolicySnapshot,
  type TAgentMessage,
  type TControlMessage,
  type TLiveSession,
  type TPolicySnapshot,
  type TProbeResult,
} from "@portcullis/agent-protocol";
import type { Logger } from "pino";
import { WebSocket, type RawData } from "ws";
import { z } from "zod";
import type { AuditSpool } from "../spool/audit-spool.ts";
import { writeFileAtomic } from "./atomic-file.ts";
import { buildEventBatch } from "./event-batches.ts";

/** This process's start, in the hello: the dashboard shows when an agent (re)started. */
const PROCESS_STARTED_AT = new Date(Date.now() - process.uptime() * 1000).toISOString();

export interface TControlPlaneLinkOptions {
  /** Control plane base URL (`ws://host:port`, `http://host:port`) or the full link URL. */
  url: string;
  /** One-time token from the admin; used only while no credential is stored. */
  enrollmentToken?: string;
  /** Where the credential issued at enrollment is kept (JSON, mode 0600). */
  credentialFile: string;
  /** Where the last policy snapshot is kept (mode 0600: it holds upstream passwords). */
  policyCacheFile: string;
  agentVersion: string;
  hostname?: string;
  logger: Logger;
  spool: AuditSpool;
  /** Interval of `heartbeat` messages (ms, default 15 s). */
  heartbeatMs?: number;
  /** Reconnect backoff: first delay and cap (ms, default 250 and 10 000), with jitter. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Delay between attempts while the control plane refuses our credential or token (ms, default 30 s). */
  authRetryMs?: number;
  /** A link up this long resets the backoff (ms, default 10 s). */
  stableAfterMs?: number;
  /** No frame or ping from the control plane for this long: the link is presumed dead (ms, default 45 s). */
  livenessTimeoutMs?: number;
  /** A batch unacknowledged for this long: reconnect and resend (ms, default 30 s). */
  ackTimeoutMs?: number;
  /** Per `events` frame (defaults 200 events, 1 MiB; the control plane accepts 500 events, 4 MiB). */
  maxBatchEvents?: number;
  maxBatchBytes?: number;
  /** Unacknowledged frames in flight (default 4). */
  maxInFlightBatches?: number;
  /** How long new events wait for company before a frame goes out, unless a full frame is ready (ms,
   * default 10). Under load this turns one frame (and one insert, one ack) per statement into one per
   * hundred; the timeline sees events that much later. While a frame awaits its ack, a partial frame
   * waits for that ack instead (see pump()). */
  batchLingerMs?: number;
}

export type TLinkState = "connected" | "disconnected";

export interface TApprovalOutcome {
  approved: boolean;
  decidedBy: string | null;
  reason: string;
}

export interface TControlPlaneLinkEvents {
  policy: [snapshot: TPolicySnapshot];
  state: [state: TLinkState];
  /** The control plane asks for a probe of a database (onboarding); answer with sendProbeResult. */
  probe: [request: Extract<TControlMessage, { type: "probe" }>];
}

const ZStoredCredential = z.object({
  agentId: z.uuid(),
  agentName: z.string(),
  credential: z.string().startsWith("pcag_"),
  enrolledAt: z.iso.datetime({ offset: true }),
});
type TStoredCredential = z.infer<typeof ZStoredCredential>;

const ZPolicyCache = z.object({ cachedAt: z.iso.datetime({ offset: true }), snapshot: ZPolicySnapshot });

/** Close code the control plane uses when a newer link of the same agent replaced this one. */
const CLOSE_REPLACED = 4001;
/** Policy snapshots can be large (many connections and credentials). */
const MAX_INBOUND_FRAME_BYTES = 64 * 1024 * 1024;

interface TBearer {
  kind: "credential" | "enrollment";
  value: string;
}

interface TInFlightBatch {
  ids: string[];
  sentAt: number;
}

export class ControlPlaneLink extends EventEmitter<TControlPlaneLinkEvents> {
  private readonly url: string;
  private readonly log: Logger;
  private readonly opts: Required<
    Omit<TControlPlaneLinkOptions, "enrollmentToken" | "hostname" | "logger" | "spool" | "url">
  > & { hostname: string };
  private ws: WebSocket | null = null;
  private bearer: TBearer | null = null;
  private credential: string | null = null;
  private rejectedCredential: string | null = null;
  private started = false;
  private stopped = false;
  private attempt = 0;
  private openedAt = 0;
  private lastSeen = 0;
  private refusedStatus: number | null = null;
  /** One warning per outage, not one per reconnect attempt. */
  private unreachableReported = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private sessionsHeartbeat: NodeJS.Timeout | null = null;
  private sessionSource: (() => { active: number; open: TLiveSession[] }) | null = null;
  private watchdogTimer: NodeJS.Timeout | null = null;
  private pumpScheduled = false;
  private readonly inFlight: TInFlightBatch[] = [];
  private readonly inFlightIds = new Set<string>();
  private readonly isInFlight = (id: string): boolean => this.inFlightIds.has(id);
  /** Control messages are handled one at a time: the credential is on disk before anything else happens. */
  private inbox: Promise<void> = Promise.resolve();
  private unsubscribeSpool: (() => void) | null = null;
  private closedWaiters: (() => void)[] = [];

  constructor(private readonly options: TControlPlaneLinkOptions) {
    super();
    this.url = linkUrl(options.url);
    this.log = options.logger.child({ component: "control-plane-link" });
    this.opts = {
      credentialFile: options.credentialFile,
      policyCacheFile: options.policyCacheFile,
      agentVersion: options.agentVersion,
      hostname: options.hostname ?? osHostname(),
      heartbeatMs: options.heartbeatMs ?? 15_000,
      backoffInitialMs: options.backoffInitialMs ?? 250,
      backoffMaxMs: options.backoffMaxMs ?? 10_000,
      authRetryMs: options.authRetryMs ?? 30_000,
      stableAfterMs: options.stableAfterMs ?? 10_000,
      livenessTimeoutMs: options.livenessTimeoutMs ?? 45_000,
      ackTimeoutMs: options.ackTimeoutMs ?? 30_000,
      maxBatchEvents: Math.min(options.maxBatchEvents ?? 200, 500),
      maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
      maxInFlightBatches: Math.max(1, options.maxInFlightBatches ?? 4),
      batchLingerMs: Math.max(0, options.batchLingerMs ?? 10),
    };
    const host = new URL(this.url).hostname;
    if (this.url.startsWith("ws:") && !["127.0.0.1", "localhost", "[::1]"].includes(host)) {
      this.log.warn(
        { url: this.url },
        "control plane link is not encrypted (ws://): use wss:// outside a trusted network",
      );
    }
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /**
   * Emits the cached policy (synchronously, so the agent enforces at once even with the control plane
   * down), then connects and keeps reconnecting until stop().
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.emitCachedPolicy();
    this.unsubscribeSpool = this.options.spool.onAppend(() => this.kick());
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribeSpool?.();
    this.unsubscribeSpool = null;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise<void>((resolve) => this.closedWaiters.push(resolve));
      ws.close(1000, "agent stopping");
      const force = setTimeout(() => ws.terminate(), 2000);
      await closed;
      clearTimeout(force);
    }
    await this.inbox;
  }

  private address: string | null = null;
  private readonly approvals = new Map<
    string,
    { resolve: (decision: TApprovalOutcome) => void; timer: NodeJS.Timeout }
  >();

  /**
   * Asks the control plane for an approval of a held statement and resolves with the decision; a timeout or
   * an unreachable control plane is a denial (fail closed).
   */
  requestApproval(
    request: Omit<Extract<TAgentMessage, { type: "approval.request" }>, "v" | "type" | "expiresAt">,
    timeoutMs: number,
  ): Promise<TApprovalOutcome> {
    if (!this.connected)
      return Promise.resolve({
        approved: false,
        decidedBy: null,
        reason: "the control plane is unreachable, so no approval can be given",
      });
    const expiresAt = new Date(Date.now() + timeoutMs).toISOString();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.approvals.delete(request.approvalId);
        resolve({
          approved: false,
          decidedBy: null,
          reason: `no decision within ${Math.round(timeoutMs / 1000)} s`,
        });
      }, timeoutMs);
      timer.unref();
      this.approvals.set(request.approvalId, { resolve, timer });
      this.sendMessage({ v: PROTOCOL_VERSION, type: "approval.request", ...request, expiresAt });
    });
  }

  /**
   * The session holding an approval's statement ended before a decision: the control plane marks the request
   * withdrawn, so approvers are not left deciding on something that can no longer run. A decision arriving
   * later finds nothing waiting.
   */
  withdrawApproval(approvalId: string, reason: string): void {
    const pending = this.approvals.get(approvalId);
    if (!pending) return;
    this.approvals.delete(approvalId);
    clearTimeout(pending.timer);
    this.sendMessage({
      v: PROTOCOL_VERSION,
      type: "approval.withdraw",
      approvalId,
      reason: fitAuditText(reason, 500),
    });
  }

  /** Where clients reach this agent (host:port), announced in hello; set before start(). */
  setAddress(address: string): void {
    this.address = address;
  }

  /** How many sessions are open and which (the newest), read at each heartbeat. */
  setSessionSource(source: () => { active: number; open: TLiveSession[] }): void {
    this.sessionSource = source;
  }

  /** A session opened or closed: heartbeat within a second, so the dashboard's list follows. */
  sessionsChanged(): void {
    if (this.sessionsHeartbeat || !this.connected) return;
    this.sessionsHeartbeat = setTimeout(() => {
      this.sessionsHeartbeat = null;
      this.sendHeartbeat();
    }, 1000);
    this.sessionsHeartbeat.unref();
  }

  private sendHeartbeat(): void {
    if (!this.connected) return;
    const sessions = this.sessionSource?.();
    this.sendMessage({
      v: PROTOCOL_VERSION,
      type: "heartbeat",
      activeSessions: sessions?.active ?? 0,
      spooled: this.options.spool.size,
      ...(sessions ? { sessions: sessions.open } : {}),
    });
  }

  /** Sends spooled events soon (the link already does this on every spool append). */
  kick(): void {
    if (this.pumpScheduled || !this.connected) return;
    const unsent = this.options.spool.inMemory - this.inFlightIds.size;
    if (unsent <= 0) return;
    // With a frame in flight, its ack kicks again (settle()); only a full frame is worth sending before then.
    if (this.inFlight.length > 0 && unsent < this.opts.maxBatchEvents) return;
    this.pumpScheduled = true;
    // A full frame goes at once; otherwise events of the next few milliseconds share the frame.
    if (unsent >= this.opts.maxBatchEvents || this.opts.batchLingerMs === 0) setImmediate(this.scheduledPump);
    else setTimeout(this.scheduledPump, this.opts.batchLingerMs).unref();
  }

  /** One function for every scheduled pump: kick() runs per audit event and should not allocate one. */
  private readonly scheduledPump = (): void => {
    this.pumpScheduled = false;
    this.pump();
  };

  private emitCachedPolicy(): void {
    let text: string;
    try {
      text = readFileSync(this.opts.policyCacheFile, "utf8");
    } catch {
      return; // first start: no policy yet, the agent admits nobody until the control plane sends one
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    const parsed = ZPolicyCache.safeParse(json);
    if (!parsed.success) {
      this.log.warn({ file: this.opts.policyCacheFile }, "ignoring unreadable policy cache");
      return;
    }
    this.log.info(
      { revision: parsed.data.snapshot.revision, cachedAt: parsed.data.cachedAt },
      "enforcing cached policy until the control plane answers",
    );
    this.emitPolicy(parsed.data.snapshot);
  }

  private connect(): void {
    if (this.stopped) return;
    void this.pickBearer().then((bearer) => {
      if (this.stopped) return;
      if (!bearer) {
        this.log.error(
          { credentialFile: this.opts.credentialFile },
          "no agent credential and no enrollment token: issue an enrollment token in the dashboard",
        );
        return this.scheduleReconnect(this.opts.authRetryMs);
      }
      this.bearer = bearer;
      this.refusedStatus = null;
      this.log.debug({ url: this.url, using: bearer.kind }, "connecting to control plane");
      const ws = new WebSocket(this.url, {
        headers: { Authorization: `Bearer ${bearer.value}` },
        maxPayload: MAX_INBOUND_FRAME_BYTES,
        handshakeTimeout: 10_000,
      });
      this.ws = ws;
      ws.on("unexpected-response", (_req, res) => {
        this.refusedStatus = res.statusCode ?? null;
        res.resume();
        ws.terminate();
      });
      ws.on("open", () => this.onOpen(ws));
      ws.on("message", (data, isBinary) => this.onFrame(data, isBinary));
      ws.on("ping", () => (this.lastSeen = Date.now()));
      ws.on("error", (err) => {
        if (this.refusedStatus !== null) return; // reported by onClose
        if (this.openedAt === 0 && !this.unreachableReported) {
          this.unreachableReported = true;
          this.log.warn(
            { url: this.url, err: err.message },
            "control plane unreachable; retrying with backoff",
          );
        } else {
          this.log.debug({ err: err.message }, "control plane link error");
        }
      });
      ws.on("close", (code, reason) => this.onClose(ws, code, reason.toString()));
    });
  }

  /** The stored credential unless the control plane just refused it and a token exists to re-enroll with. */
  private async pickBearer(): Promise<TBearer | null> {
    const stored = this.credential ?? (await this.readCredential());
    if (stored && stored !== this.rejectedCredential) return { kind: "credential", value: stored };
    if (this.options.enrollmentToken) return { kind: "enrollment", value: this.options.enrollmentToken };
    return stored ? { kind: "credential", value: stored } : null;
  }

  private async readCredential(): Promise<string | null> {
    let text: string;
    try {
      text = await readFile(this.opts.credentialFile, "utf8");
    } catch {
      return null;
    }
    try {
      return ZStoredCredential.parse(JSON.parse(text)).credential;
    } catch {
      this.log.error({ file: this.opts.credentialFile }, "credential file is unreadable; ignoring it");
      return null;
    }
  }

  private onOpen(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.openedAt = Date.now();
    this.lastSeen = this.openedAt;
    this.unreachableReported = false;
    if (this.bearer?.kind === "credential") this.rejectedCredential = null;
    this.log.info({ url: this.url }, "connected to control plane");
    this.sendMessage({
      v: PROTOCOL_VERSION,
      type: "hello",
      agentVersion: this.opts.agentVersion,
      hostname: this.opts.hostname,
      spooled: this.options.spool.size,
      ...(this.address ? { address: this.address } : {}),
      startedAt: PROCESS_STARTED_AT,
    });
    // The open sessions at once, replacing whatever the store still lists from this agent's last process.
    this.sendHeartbeat();
    this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), this.opts.heartbeatMs);
    this.watchdogTimer = setInterval(() => this.watchdog(), Math.min(1000, this.opts.livenessTimeoutMs / 2));
    this.emit("state", "connected");
    this.pump();
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    const wasOpen = this.openedAt > 0;
    const upFor = wasOpen ? Date.now() - this.openedAt : 0;
    this.ws = null;
    this.openedAt = 0;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.sessionsHeartbeat) clearTimeout(this.sessionsHeartbeat);
    this.sessionsHeartbeat = null;
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.heartbeatTimer = this.watchdogTimer = null;
    // Unacknowledged events stay in the spool and go out again on the next link.
    this.inFlight.length = 0;
    this.inFlightIds.clear();
    if (wasOpen) {
      this.log.info(
        { code, reason, upForMs: upFor, spooled: this.options.spool.size },
        "disconnected from control plane",
      );
      this.emit("state", "disconnected");
    }
    for (const resolve of this.closedWaiters.splice(0)) resolve();
    if (this.stopped) return;

    if (this.refusedStatus === 401 || this.refusedStatus === 403) {
      if (this.bearer?.kind === "enrollment") {
        this.log.error(
          "control plane refused the enrollment token (unknown, expired or already used): issue a new one; retrying",
        );
        return this.scheduleReconnect(this.opts.authRetryMs);
      }
      this.rejectedCredential = this.bearer?.value ?? null;
      this.log.error(
        { credentialFile: this.opts.credentialFile },
        this.options.enrollmentToken
          ? "control plane refused the agent credential; trying the enrollment token"
          : "control plane refused the agent credential (agent removed or re-enrolled?); retrying",
      );
      return this.scheduleReconnect(
        this.options.enrollmentToken ? this.nextBackoff() : this.opts.authRetryMs,
      );
    }
    if (this.refusedStatus !== null)
      this.log.warn({ status: this.refusedStatus }, "control plane refused the link");
    if (code === CLOSE_REPLACED) {
      this.log.warn(
        "another link with this agent's credential replaced ours: is a second agent running with it?",
      );
      return this.scheduleReconnect(this.opts.backoffMaxMs);
    }
    if (wasOpen && upFor >= this.opts.stableAfterMs) this.attempt = 0;
    this.scheduleReconnect(this.nextBackoff());
  }

  /** Exponential backoff with jitter (half fixed, half random), so a fleet does not reconnect in lockstep. */
  private nextBackoff(): number {
    const ceiling = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.stopped) return;
    this.log.debug({ delayMs }, "reconnecting later");
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delayMs);
  }

  private watchdog(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    if (now - this.lastSeen > this.opts.livenessTimeoutMs) {
      this.log.warn({ silentMs: now - this.lastSeen }, "control plane went silent; reconnecting");
      ws.terminate();
      return;
    }
    const oldest = this.inFlight[0];
    if (oldest && now - oldest.sentAt > this.opts.ackTimeoutMs) {
      this.log.warn(
        { events: oldest.ids.length },
        "audit events not acknowledged in time; reconnecting to resend",
      );
      ws.terminate();
    }
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    this.lastSeen = Date.now();
    const message = isBinary ? { error: "binary frame" } : parseControlMessage(rawToString(data));
    if ("error" in message) {
      this.log.warn({ error: message.error.slice(0, 500) }, "dropped invalid frame from control plane");
      return;
    }
    this.inbox = this.inbox
      .then(() => this.handleMessage(message))
      .catch((err: unknown) =>
        this.log.error({ err, type: message.type }, "failed to handle control-plane message"),
      );
  }

  private async handleMessage(message: TControlMessage): Promise<void> {
    switch (message.type) {
      case "enrolled":
        return this.storeCredential(message);
      case "welcome":
        this.log.info({ agentId: message.agentId, agent: message.agentName }, "control plane welcomed agent");
        return;
      case "policy":
        this.log.info(
          { revision: message.snapshot.revision, connections: message.snapshot.connections.length },
          "policy snapshot received",
        );
        this.emitPolicy(message.snapshot);
        try {
          await writeFileAtomic(
            this.opts.policyCacheFile,
            JSON.stringify({ cachedAt: new Date().toISOString(), snapshot: message.snapshot }),
          );
        } catch (err) {
          this.log.error({ err, file: this.opts.policyCacheFile }, "could not cache the policy snapshot");
        }
        return;
      case "events.ack":
        this.settle(message.ids);
        this.log.debug(
          { acked: message.ids.length, spooled: this.options.spool.size },
          "audit events acknowledged",
        );
        return;
      case "approval.decision": {
        const pending = this.approvals.get(message.approvalId);
        if (!pending) return;
        this.approvals.delete(message.approvalId);
        clearTimeout(pending.timer);
        pending.resolve({ approved: message.approved, decidedBy: message.decidedBy, reason: message.reason });
        return;
      }
      case "probe":
        // Answered later (it connects to a database): the inbox must not wait for it.
        this.emit("probe", message);
        return;
      case "events.reject":
        // Dropped, not retried: the control plane will never accept them, and they must not block the spool.
        this.log.error(
          { ids: message.ids, reason: message.reason },
          "control plane rejected audit events; dropping them",
        );
        this.settle(message.ids);
        return;
    }
  }

  private async storeCredential(message: Extract<TControlMessage, { type: "enrolled" }>): Promise<void> {
    // Kept in memory first: even if the disk write fails, this process can reconnect.
    this.credential = message.credential;
    const stored: TStoredCredential = {
      agentId: message.agentId,
      agentName: message.agentName,
      credential: message.credential,
      enrolledAt: new Date().toISOString(),
    };
    try {
      await writeFileAtomic(this.opts.credentialFile, `${JSON.stringify(stored, null, 2)}\n`);
      this.log.info(
        { agentId: message.agentId, agent: message.agentName, file: this.opts.credentialFile },
        "enrolled: credential stored",
      );
    } catch (err) {
      this.log.error(
        { err, file: this.opts.credentialFile },
        "enrolled, but the credential could not be written: after a restart this agent needs a new enrollment token",
      );
    }
  }

  private emitPolicy(snapshot: TPolicySnapshot): void {
    try {
      this.emit("policy", snapshot);
    } catch (err) {
      this.log.error({ err }, "policy listener failed");
    }
  }

  private settle(ids: string[]): void {
    this.options.spool.ack(ids);
    for (const id of ids) this.inFlightIds.delete(id);
    for (let i = this.inFlight.length - 1; i >= 0; i--) {
      if (this.inFlight[i]!.ids.every((id) => !this.inFlightIds.has(id))) this.inFlight.splice(i, 1);
    }
    // Not pump(): events waiting at the ack leave after the linger too, with what arrives meanwhile.
    this.kick();
  }

  /**
   * Sends pending events while fewer than maxInFlightBatches frames await an ack. Full frames go at once;
   * a partial frame goes only when nothing is in flight, and after the linger (kick()). So an idle link
   * sends each event after the linger, and a busy one a few large frames instead of many small ones,
   * which is what the control plane and its store pay for (a transaction, a chain-head lookup and a
   * commit per frame).
   */
  private pump(): void {
    const ws = this.ws;
    while (ws && ws.readyState === WebSocket.OPEN && this.inFlight.length < this.opts.maxInFlightBatches) {
      // Skipping the events in flight while reading (not fetching them and filtering after) keeps each pump
      // to one frame's worth of objects, however many frames await their ack.
      const candidates = this.options.spool.pendingSerialized(this.opts.maxBatchEvents, this.isInFlight);
      const batch = buildEventBatch(candidates, this.opts.maxBatchEvents, this.opts.maxBatchBytes);
      if (!batch || (!batch.full && this.inFlight.length > 0)) return;
      ws.send(batch.frame, { binary: false });
      this.inFlight.push({ ids: batch.ids, sentAt: Date.now() });
      for (const id of batch.ids) this.inFlightIds.add(id);
      this.log.debug({ events: batch.ids.length, inFlight: this.inFlight.length }, "audit events sent");
    }
  }

  sendProbeResult(requestId: string, result: TProbeResult): void {
    this.sendMessage({ v: PROTOCOL_VERSION, type: "probe.result", requestId, result });
  }

  private sendMessage(message: TAgentMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(encodeMessage(message));
  }
}

/** Accepts a base URL (http(s) or ws(s)) and points it at the link endpoint unless a path is given. */
export function linkUrl(base: string): string {
  const url = new URL(base);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:")
    throw new Error(`unsupported control plane URL: ${base}`);
  if (url.pathname === "/" || url.pathname === "") url.pathname = AGENT_LINK_PATH;
  return url.toString();
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}
