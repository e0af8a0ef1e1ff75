// The agent's listener: TLS negotiation, startup, client authentication (identity + token), the upstream
// connection with credentials the client never sees, cancel routing, then a ProxySession per client.
import { randomInt, randomUUID, timingSafeEqual } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import {
  AUDIT_EVENT_LIMITS,
  conformAuditEvent,
  fitAuditText,
  type TAuditEvent,
} from "@portcullis/agent-protocol";
import type { Logger } from "pino";
import { AuthFailureLog } from "./auth-failures.ts";
import { encodingAllowed, encodingRefusal, ProxySession, QUOTING_REFUSAL } from "./session.ts";
import { startupSettings } from "./startup-settings.ts";
import type { TProxyHooks, TSessionInfo } from "./types.ts";
import {
  connectUpstream,
  isLoopback,
  sendUpstreamCancel,
  UpstreamError,
  type TUpstreamTarget,
} from "./upstream.ts";
import {
  authenticationCleartextPassword,
  authenticationOk,
  backendKeyData,
  BodyReader,
  CANCEL_REQUEST_CODE,
  errorResponse,
  GSSENC_REQUEST_CODE,
  negotiateProtocolVersion,
  noticeResponse,
  MAX_STARTUP_PACKET,
  parameterStatus,
  parseStartupParams,
  PROTOCOL_3_0,
  readyForQuery,
  SSL_REQUEST_CODE,
} from "./wire.ts";

export interface TProxyServerOptions {
  host: string;
  port: number;
  hooks: TProxyHooks;
  logger: Logger;
  /** PEM key and certificate: when set, SSLRequest is accepted. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Cleartext passwords from non-loopback clients are refused unless this is set (tokens would cross the network in clear). */
  allowCleartextRemote?: boolean;
  handshakeTimeoutMs?: number;
  /** Closes sessions idle for this long (0 = never). */
  idleTimeoutMs?: number;
  /**
   * How long statements a gone client left running may go on before the agent cancels them (default 10 s);
   * their outcome is recorded either way.
   */
  goneClientGraceMs?: number;
  /**
   * Failed logins recorded one by one per client address and window (default 20 per 60 s); the rest of a
   * window's are recorded as one summary event (auth-failures.ts).
   */
  authFailures?: { perWindow: number; windowMs: number };
}

export interface TProxyServer {
  readonly port: number;
  readonly activeSessions: number;
  /** The open sessions with when each began, newest first (at most `limit`). */
  liveSessions(limit: number): { info: TSessionInfo; startedAt: Date }[];
  /** Ends the sessions of one identity (revoked credential, expired grant). */
  terminateSessions(predicate: (info: TSessionInfo) => boolean, message: string): number;
  /**
   * Stops accepting clients and ends every session: idle ones at once, the others when their statement or
   * transaction is over; what still runs after `graceMs` is cancelled upstream and ended. Resolves when all
   * sessions are closed.
   */
  close(graceMs?: number): Promise<void>;
}

const SHUTDOWN_REASON = "agent shutting down";
const SHUTDOWN_FATAL = {
  code: "57P01",
  message: "terminating connection: the Portcullis agent is shutting down",
};
/** As Postgres answers a client during its own shutdown (57P03), so libpq moves on to its next host. */
const STARTUP_REFUSED = { code: "57P03", message: "the Portcullis agent is shutting down" };

/** How much a client may send behind its password before the session begins. */
const MAX_EARLY_BYTES = 64 * 1024;

function quotingIsStandard(parameters: [string, string][]): boolean {
  const reported = parameters.find(([name]) => name === "standard_conforming_strings");
  // Every supported server reports it; one that does not is not one we can vouch for.
  return reported?.[1] === "on";
}

interface TCancelTarget {
  secretKey: number;
  upstream: TUpstreamTarget;
  upstreamKey: { processId: number; secretKey: number };
  /** The session the key was issued to: a statement it holds for an approval is cancelled there. */
  session?: ProxySession;
}

/**
 * Ends a session whose client has kept the database waiting for `idleMs`: nothing came either way since the
 * session was last waiting for its client (between statements, in a transaction or not, or in the middle of
 * a client message). A long statement that sends nothing back (pg_sleep, a big sort) is not idleness, so a
 * socket timeout (no bytes either way) would be wrong; the session itself knows which it is.
 */
function watchIdle(client: net.Socket, upstream: net.Socket, session: ProxySession, idleMs: number): void {
  const timer = setTimeout(() => {
    if (session.awaitingClient)
      session.terminate("idle timeout", {
        code: "57P05",
        message: "terminating connection due to idle timeout",
      });
    else timer.refresh();
  }, idleMs);
  timer.unref();
  const refresh = () => timer.refresh();
  client.on("data", refresh);
  upstream.on("data", refresh);
  client.once("close", () => clearTimeout(timer));
}

export async function startProxyServer(options: TProxyServerOptions): Promise<TProxyServer> {
  const { hooks, logger } = options;
  const sessions = new Set<ProxySession>();
  const cancelTargets = new Map<number, TCancelTarget>();
  /** Each session's upstream cancel key, so ending a session also stops the statement it is running. */
  const cancelOf = new WeakMap<ProxySession, TCancelTarget>();
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 15_000;
  /** Resolved when the last session closes while the agent is stopping. */
  const drainedWaiters: (() => void)[] = [];
  /**
   * Ends a session now. Closing the sockets alone would leave a running statement to finish (and, outside a
   * transaction, commit): the database notices a gone client only when it next writes to it. Cancel it first.
   */
  const endNow = (s: ProxySession, reason: string, fatal: { code: string; message: string }) => {
    const target = cancelOf.get(s);
    if (target)
      sendUpstreamCancel(target.upstream, target.upstreamKey).catch((e: Error) =>
        logger.warn({ err: e.message }, "cancelling an ended session's statement failed"),
      );
    // What the statement did before the cancel reached it is read and recorded before the session ends.
    s.terminate(reason, fatal, true);
  };
  /** Raw sockets of clients still in their handshake: not sessions yet, ended as such when the agent stops. */
  const handshaking = new Set<net.Socket>();
  let closing = false;

  const sessionEvent = (
    info: TSessionInfo,
    type: "session_start" | "session_end",
    message: string | null,
  ): TAuditEvent =>
    conformAuditEvent({
      id: randomUUID(),
      type,
      occurredAt: new Date().toISOString(),
      actorId: info.identityId,
      actorName: info.identityName,
      actorKind: info.identityKind,
      connectionId: info.connectionId,
      connectionName: info.connectionName,
      environment: info.environment,
      sessionId: info.sessionId,
      clientAddr: info.clientAddr,
      applicationName: info.applicationName,
      statement: null,
      fingerprint: null,
      statementClass: null,
      decision: "allowed",
      ruleId: null,
      ruleName: null,
      message,
      tables: [],
      columns: [],
      maskedColumns: [],
      rowCount: null,
      durationMs: null,
      error: null,
    });

  /** The audit event of a refused login (its names are the client's: fitted like every event). */
  const authFailureEvent = (
    who: { user: string; database: string; clientAddr: string; applicationName: string },
    message: string,
  ): TAuditEvent =>
    conformAuditEvent({
      ...sessionEvent(
        {
          identityId: "",
          identityName: who.user,
          identityKind: "human",
          groups: [],
          sessionId: "",
          connectionId: "",
          connectionName: who.database,
          environment: "",
          clientAddr: who.clientAddr,
          applicationName: who.applicationName,
        },
        "session_start",
        message,
      ),
      type: "auth_failure",
      actorId: null,
      actorKind: "unknown",
      connectionId: null,
      environment: null,
      sessionId: null,
      decision: "denied",
    });

  const authFailureWindow = options.authFailures ?? { perWindow: 20, windowMs: 60_000 };
  const authFailures = new AuthFailureLog({
    ...authFailureWindow,
    maxAddresses: 10_000,
    summarise: ({ clientAddr, suppressed, windowMs }) =>
      hooks.record(
        authFailureEvent(
          { user: "", database: "", clientAddr, applicationName: "" },
          `${suppressed} more failed login${suppressed === 1 ? "" : "s"} from ${clientAddr} within ${Math.round(windowMs / 1000)} s, not recorded one by one (after the first ${authFailureWindow.perWindow})`,
        ),
      ),
  });
  const authFailureSweep = setInterval(() => authFailures.flush(), authFailureWindow.windowMs);
  authFailureSweep.unref();

  const handle = (raw: net.Socket) => {
    raw.setNoDelay(true);
    const clientAddr = raw.remoteAddress ?? "";
    let socket: net.Socket = raw;
    let secure = false;
    let buffered = Buffer.alloc(0);
    let phase: "startup" | "password" | "connecting" | "done" = "startup";
    let params = new Map<string, string>();
    let passwordBytes: Buffer = Buffer.alloc(0);
    /**
     * What the client sent after its password, before the session began. Postgres reads it once the session has
     * started (pg8000 sends a Flush right behind the password): kept, bounded, and handed to the session, which
     * governs it like anything else; dropped if authentication fails.
     */
    const early: Buffer[] = [];
    let earlyBytes = 0;
    const keepEarly = (bytes: Buffer) => {
      if (bytes.length === 0) return;
      earlyBytes += bytes.length;
      if (earlyBytes > MAX_EARLY_BYTES)
        return fail("08P01", "protocol violation: too much data sent before authentication completed");
      early.push(Buffer.from(bytes));
    };

    const timer = setTimeout(() => fail("08006", "handshake timed out"), handshakeTimeoutMs);
    const fail = (code: string, message: string) => {
      clearTimeout(timer);
      if (!socket.destroyed) socket.end(errorResponse({ severity: "FATAL", code, message }));
      setTimeout(() => socket.destroy(), 500).unref();
      phase = "done";
    };

    const onData = (chunk: Buffer) => {
      try {
        if (phase === "startup") onStartupData(chunk);
        else if (phase === "password") onPasswordData(chunk);
        else if (phase === "connecting") keepEarly(chunk);
      } catch (error) {
        fail("08P01", `protocol violation: ${(error as Error).message}`);
      }
    };

    /**
     * TLS on this connection: after SSLRequest, or at once when the client opened with a TLS handshake
     * (libpq 17's sslnegotiation=direct), whose bytes already read are handed back to the TLS layer.
     */
    const startTls = (tlsOptions: { key: string | Buffer; cert: string | Buffer }, alreadyRead?: Buffer) => {
      socket.off("data", onData);
      if (alreadyRead) {
        // Paused first, or the unshifted bytes would be emitted to no listener; TLSSocket reads them back.
        socket.pause();
        socket.unshift(alreadyRead);
      }
      const tlsSocket = new tls.TLSSocket(socket, {
        isServer: true,
        key: tlsOptions.key,
        cert: tlsOptions.cert,
        // As Postgres 17+: "postgresql" is offered; a direct connection must have asked for it.
        ALPNProtocols: ["postgresql"],
      });
      tlsSocket.on("error", (e) => {
        logger.debug({ clientAddr, err: e.message }, "TLS handshake failed");
        raw.destroy();
      });
      if (alreadyRead)
        tlsSocket.once("secure", () => {
          if (tlsSocket.alpnProtocol !== "postgresql") {
            logger.debug({ clientAddr }, "direct TLS connection without the postgresql ALPN; closing");
            raw.destroy();
          }
        });
      socket = tlsSocket;
      secure = true;
      socket.on("data", onData);
    };

    const onStartupData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      // A TLS handshake record (0x16) where a startup packet length would be: direct TLS.
      if (buffered[0] === 0x16 && !secure) {
        if (!options.tls) return fail("08P01", "direct TLS is not configured on this agent");
        const alreadyRead = buffered;
        buffered = Buffer.alloc(0);
        return startTls(options.tls, alreadyRead);
      }
      if (buffered.length < 4) return;
      const length = buffered.readInt32BE(0);
      if (length < 8 || length > MAX_STARTUP_PACKET)
        return fail("08P01", `invalid startup packet length ${length}`);
      if (buffered.length < length) return;
      const packet = buffered.subarray(0, length);
      const rest = buffered.subarray(length);
      buffered = Buffer.alloc(0);
      const code = packet.readInt32BE(4);
      if (code === SSL_REQUEST_CODE) {
        if (rest.length > 0) return fail("08P01", "data after SSLRequest");
        if (!options.tls || secure) {
          socket.write("N");
          return;
        }
        socket.write("S");
        startTls(options.tls);
        return;
      }
      if (code === GSSENC_REQUEST_CODE) {
        socket.write("N");
        if (rest.length > 0) onStartupData(rest);
        return;
      }
      if (code === CANCEL_REQUEST_CODE) {
        clearTimeout(timer);
        phase = "done";
        if (length !== 16) return socket.destroy();
        const processId = packet.readInt32BE(8);
        const secretKey = packet.readInt32BE(12);
        socket.destroy();
        const target = cancelTargets.get(processId);
        const a = Buffer.alloc(4);
        const b = Buffer.alloc(4);
        a.writeInt32BE(secretKey);
        b.writeInt32BE(target?.secretKey ?? 0);
        if (target && timingSafeEqual(a, b)) {
          // A statement held for an approval never reached the database: the agent refuses it itself. The
          // database is asked too, for what runs ahead of it in the pipeline.
          target.session?.cancelHeld();
          sendUpstreamCancel(target.upstream, target.upstreamKey).catch((e: Error) =>
            logger.warn({ err: e.message }, "cancel request to the database failed"),
          );
        }
        return;
      }
      if (code >> 16 !== PROTOCOL_3_0 >> 16)
        return fail(
          "0A000",
          `unsupported frontend protocol ${code >> 16}.${code & 0xffff}: Portcullis speaks 3.0`,
        );
      if (closing) return fail(STARTUP_REFUSED.code, STARTUP_REFUSED.message);
      params = parseStartupParams(packet);
      // As Postgres does: a newer 3.x minor version or `_pq_.` protocol options are answered with the
      // version the session will speak (3.0) and the options it ignores, not refused (libpq 18 may ask for 3.2).
      const protocolOptions = [...params.keys()].filter((name) => name.startsWith("_pq_."));
      const negotiation =
        code !== PROTOCOL_3_0 || protocolOptions.length > 0
          ? negotiateProtocolVersion(PROTOCOL_3_0, protocolOptions)
          : null;
      if (params.has("replication") && params.get("replication") !== "false")
        return fail("42501", "replication connections are not allowed through Portcullis");
      const user = params.get("user");
      if (!user) return fail("28000", "no user name given");
      if (!secure && !isLoopback(clientAddr) && !options.allowCleartextRemote) {
        return fail(
          "28000",
          "Portcullis requires TLS for clients that are not on this machine (use sslmode=require)",
        );
      }
      phase = "password";
      if (negotiation) socket.write(negotiation);
      socket.write(authenticationCleartextPassword());
      if (rest.length > 0) onPasswordData(rest);
    };

    const onPasswordData = (chunk: Buffer) => {
      passwordBytes = passwordBytes.length === 0 ? chunk : Buffer.concat([passwordBytes, chunk]);
      if (passwordBytes.length < 5) return;
      const length = passwordBytes.readInt32BE(1);
      if (passwordBytes[0] !== 0x70 /* p */ || length < 4 || length > MAX_STARTUP_PACKET)
        return fail("08P01", "expected a password message");
      if (passwordBytes.length < 1 + length) return;
      const frame = { type: 0x70, raw: passwordBytes.subarray(0, 1 + length), bodyStart: 5 };
      const password = new BodyReader(frame.raw, frame.bodyStart).cstring();
      keepEarly(passwordBytes.subarray(1 + length));
      passwordBytes = Buffer.alloc(0);
      if (phase !== "password") return; // too much came with it
      phase = "connecting";
      void authenticateAndConnect(password);
    };

    const authenticateAndConnect = async (password: string) => {
      const user = params.get("user") ?? "";
      const database = params.get("database") ?? user;
      // The client chooses it (Postgres keeps 63 bytes of it): fitted to the audit event, which would be refused.
      const applicationName = fitAuditText(
        params.get("application_name") ?? "",
        AUDIT_EVENT_LIMITS.applicationName,
      );
      const outcome = hooks.authenticate({ user, database, password, clientAddr });
      if (!outcome.ok) {
        logger.info({ user, database, clientAddr, reason: outcome.message }, "client authentication refused");
        if (authFailures.admit(clientAddr))
          hooks.record(authFailureEvent({ user, database, clientAddr, applicationName }, outcome.message));
        return fail(outcome.code, outcome.message);
      }
      // Session settings pass on; `-c role=...`, `session_authorization` and anything that would change who
      // the session is upstream or how the server reads statements do not (startup-settings.ts).
      const { forwarded, ignored } = startupSettings(params);
      let upstream;
      try {
        upstream = await connectUpstream(outcome.upstream, forwarded);
      } catch (error) {
        const reason = error instanceof UpstreamError ? error.message : "could not connect to the database";
        logger.warn({ user, database, err: reason }, "upstream connection failed");
        // Name the connection so the client knows its own token was accepted and the agent's side failed.
        // The database's 28xxx codes would read as "your password is wrong" to clients (Prisma P1000,
        // retry logic): report 08004, the server rejected establishing the connection.
        const code = error instanceof UpstreamError ? error.code : "08006";
        return fail(
          code.startsWith("28") ? "08004" : code,
          `Portcullis could not connect to the database of connection "${database}": ${reason}`,
        );
      }
      // The client went away, or the handshake failed meanwhile (timed out, too much sent behind the password).
      if (socket.destroyed || phase !== "connecting") {
        upstream.socket.destroy();
        return;
      }
      if (closing) {
        upstream.socket.destroy();
        return fail(STARTUP_REFUSED.code, STARTUP_REFUSED.message);
      }
      if (!quotingIsStandard(upstream.parameters)) {
        upstream.socket.destroy();
        logger.warn({ database }, "database runs with standard_conforming_strings off; session refused");
        return fail("0A000", QUOTING_REFUSAL);
      }
      clearTimeout(timer);
      phase = "done";
      handshaking.delete(raw);
      socket.off("data", onData);

      const info: TSessionInfo = {
        ...outcome.identity,
        sessionId: randomUUID(),
        connectionId: outcome.connection.id,
        connectionName: outcome.connection.name,
        environment: outcome.connection.environment,
        clientAddr,
        applicationName,
      };
      const clientEncoding = upstream.parameters.find(([name]) => name === "client_encoding")?.[1] ?? "UTF8";
      if (!encodingAllowed(clientEncoding, Boolean(hooks.masking?.(info)))) {
        upstream.socket.destroy();
        logger.info(
          { user, database, clientEncoding },
          "session in a client_encoding it may not use refused",
        );
        return fail("0A000", encodingRefusal(clientEncoding));
      }
      // The client gets keys issued by the agent; the database's own keys never leave it.
      let processId = randomInt(1, 2 ** 31 - 1);
      while (cancelTargets.has(processId)) processId = randomInt(1, 2 ** 31 - 1);
      const secretKey = randomInt(-(2 ** 31), 2 ** 31 - 1);
      if (upstream.backendKey)
        cancelTargets.set(processId, {
          secretKey,
          upstream: outcome.upstream,
          upstreamKey: upstream.backendKey,
        });

      const hello = [
        authenticationOk(),
        ...(ignored.length > 0
          ? [
              noticeResponse({
                severity: "WARNING",
                code: "01000",
                message: `Portcullis did not pass these startup settings to the database: ${ignored.join(", ")}`,
                hint: "Session settings such as statement_timeout pass through; set others with SET, where the guardrails allow it.",
              }),
            ]
          : []),
        ...upstream.parameters.map(([k, v]) => parameterStatus(k, v)),
        backendKeyData(processId, secretKey),
        readyForQuery("I"),
      ];
      socket.write(Buffer.concat(hello));

      const session = new ProxySession(
        socket,
        upstream.socket,
        info,
        hooks,
        logger,
        (s) => {
          sessions.delete(s);
          cancelTargets.delete(processId);
          if (closing && sessions.size === 0) for (const resolve of drainedWaiters.splice(0)) resolve();
          hooks.record(sessionEvent(info, "session_end", s.endReason));
          hooks.sessionsChanged?.();
          logger.info(
            { sessionId: info.sessionId, identity: info.identityName, reason: s.endReason },
            "session closed",
          );
        },
        {
          graceMs: options.goneClientGraceMs ?? 10_000,
          cancel: () => {
            const target = cancelOf.get(session);
            if (target)
              sendUpstreamCancel(target.upstream, target.upstreamKey).catch((e: Error) =>
                logger.warn({ err: e.message }, "cancelling a gone client's statement failed"),
              );
          },
        },
      );
      sessions.add(session);
      const cancelTarget = cancelTargets.get(processId);
      if (cancelTarget) {
        cancelOf.set(session, cancelTarget);
        cancelTarget.session = session;
      }
      hooks.record(sessionEvent(info, "session_start", null));
      hooks.sessionsChanged?.();
      logger.info(
        {
          sessionId: info.sessionId,
          identity: info.identityName,
          connection: info.connectionName,
          clientAddr,
          applicationName,
        },
        "session opened",
      );
      if (options.idleTimeoutMs) watchIdle(socket, upstream.socket, session, options.idleTimeoutMs);
      session.start(upstream.leftover, upstream.parameters, early.length > 0 ? Buffer.concat(early) : null);
    };

    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
    handshaking.add(raw);
    raw.on("close", () => {
      clearTimeout(timer);
      handshaking.delete(raw);
    });
  };

  const server = net.createServer(handle);
  server.maxConnections = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  logger.info(
    { host: options.host, port: address.port, tls: Boolean(options.tls) },
    "accepting Postgres clients",
  );

  return {
    port: address.port,
    liveSessions(limit) {
      const open = [...sessions].map((s) => ({ info: s.info, startedAt: s.startedAt }));
      return open.sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime()).slice(0, limit);
    },
    get activeSessions() {
      return sessions.size;
    },
    terminateSessions(predicate, message) {
      let n = 0;
      for (const s of sessions) {
        if (predicate(s.info)) {
          endNow(s, message, { code: "57P01", message });
          n += 1;
        }
      }
      return n;
    },
    async close(graceMs = 0) {
      // Still listening meanwhile, as Postgres does: new clients are told to go elsewhere (57P03) and a
      // client can still cancel its running statement.
      closing = true;
      const drained = new Promise<void>((resolve) => {
        drainedWaiters.push(resolve);
        for (const s of sessions) s.endWhenIdle(SHUTDOWN_REASON, SHUTDOWN_FATAL);
        if (sessions.size === 0) resolve();
      });
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise((resolve) => (grace = setTimeout(resolve, graceMs)))]);
      clearTimeout(grace);
      if (sessions.size > 0)
        logger.info(
          { sessions: sessions.size, graceMs },
          "sessions still busy after the shutdown grace; ending them",
        );
      for (const s of sessions) endNow(s, SHUTDOWN_REASON, SHUTDOWN_FATAL);
      clearInterval(authFailureSweep);
      authFailures.flush(true);
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const raw of handshaking) raw.destroy();
      await stopped;
    },
  };
}
